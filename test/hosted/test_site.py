"""The boot module as a tar archive on the hosted platform (--config FILE
takes the same module as the VM's -initrd): `make site` packs a config
as pollux.json beside a folder's files; the process boots from it to its
ready line. Archives the platform must refuse stop the boot with
EXIT_BAD_CONFIG and one line naming the reason: no pollux.json, two, a
damaged header (named with its offset), an archive cut short."""
import os
import subprocess
import tarfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(ROOT, "build", "pollux-hosted")
CFG = os.path.join(ROOT, "configs", "default.json")
EXIT_BAD_CONFIG = 0x11 << 1 | 1


def run(*args, timeout=120):
    p = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    return p.returncode, p.stdout + p.stderr


def make_site(tmp_path, files, config=CFG):
    site = tmp_path / "site"
    for name, body in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(body)
    build = tmp_path / "build"
    p = subprocess.run(["make", "--no-print-directory", "site", "DIR=%s" % site, "CONFIG=%s" % config,
                        "BUILD=%s" % build], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    return build / "site.tar"


def test_a_site_made_by_make_site_boots_with_its_config(tmp_path):
    tar = make_site(tmp_path, {"index.html": b"<h1>hi</h1>\n", "css/a.css": b"a{}"})
    with tarfile.open(tar) as t:
        names = t.getnames()
    assert names[0] == "pollux.json", names                # first, so tar -tf shows it
    assert "./index.html" in names and "./css/a.css" in names, names
    rc, out = run("--config", str(tar), "--exit", "ready")
    assert rc == 0, out
    size = os.path.getsize(CFG)
    assert "boot: module is a tar archive (%d bytes), config pollux.json (%d bytes)" % (
        os.path.getsize(tar), size) in out, out
    assert "config: %d bytes" % size in out, out
    assert "pollux ready" in out, out


def test_make_site_refuses_a_folder_with_its_own_pollux_json(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "pollux.json").write_text("{}")
    p = subprocess.run(["make", "--no-print-directory", "site", "DIR=%s" % site, "CONFIG=%s" % CFG,
                        "BUILD=%s" % (tmp_path / "build")], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode != 0
    assert "pollux.json would clash with the config" in p.stdout + p.stderr


def tar_of(tmp_path, members, name="m.tar"):
    """members: (name, bytes) pairs, written by Python's tarfile (ustar)."""
    import io
    path = tmp_path / name
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as t:
        for n, body in members:
            info = tarfile.TarInfo(n)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    return path


def refused(path, why):
    rc, out = run("--config", str(path), "--exit", "ready")
    assert rc == EXIT_BAD_CONFIG, out
    assert why in out, out
    assert "pollux: boot stopped: the boot module is a tar archive without a usable pollux.json" in out, out
    assert "pollux ready" not in out, out


def test_archives_without_one_usable_pollux_json_are_refused(tmp_path):
    cfg = open(CFG, "rb").read()
    refused(tar_of(tmp_path, [("index.html", b"x")], "none.tar"),
            "boot archive: no pollux.json at the archive's top level")
    refused(tar_of(tmp_path, [("pollux.json", cfg), ("./pollux.json", cfg)], "two.tar"),
            "boot archive: a second pollux.json at offset 1024")


def test_damaged_archives_are_refused_naming_the_entry(tmp_path):
    cfg = open(CFG, "rb").read()
    good = tar_of(tmp_path, [("pollux.json", cfg), ("page.html", b"<p>")])
    data = bytearray(good.read_bytes())
    off = 512 + (len(cfg) + 511) // 512 * 512        # page.html's header
    data[off + 120] ^= 0x01                          # inside its uid field
    bad = tmp_path / "bad.tar"
    bad.write_bytes(bytes(data))
    refused(bad, "boot archive: tar: bad header checksum at offset %d (entry 'page.html')" % off)
    cut = tmp_path / "cut.tar"
    cut.write_bytes(good.read_bytes()[:off + 512])   # page.html's data and the end marker gone
    refused(cut, "boot archive: tar: truncated")
