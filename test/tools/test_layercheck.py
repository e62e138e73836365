"""tools/layercheck finds every include that points up, sideways between
siblings, or into a platform's private folder, and passes a clean tree."""
import os
import subprocess
import sys

TOOL = os.path.join(os.path.dirname(__file__), "..", "..", "tools", "layercheck")


def run(tree, files):
    for path, text in files.items():
        p = tree / path
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    r = subprocess.run([sys.executable, TOOL, str(tree)], capture_output=True, text=True, timeout=60)
    return r.returncode, r.stdout


def test_a_clean_tree_passes(tmp_path):
    rc, out = run(tmp_path, {
        "core/core.h": "#include <stdint.h>\n",
        "pkt/pktbuf.h": '#include "core/core.h"\n',
        "net/tcp.c": '#include "pkt/pktbuf.h"\n#include "net_priv.h"\n',
        "appliance/main.c": '#include "api/api.h"\n#include "apps/apps.h"\n#include "core/platform.h"\n',
        "core/metal/start.c": '#include "core/metal/metal.h"\n',
    })
    assert rc == 0, out
    assert "0 include(s) against the layers, of 6 checked" in out


def test_every_kind_of_bad_include_is_named(tmp_path):
    rc, out = run(tmp_path, {
        "core/main.c": '#include "net/net.h"\n',
        "drivers/netdev.h": '#include "net/net.h"\n',
        "api/backend.c": '#include "apps/apps.h"\n',
        "drivers/pci.c": '#include "core/metal/metal.h"\n',
        "net/x.c": '#include "nowhere/x.h"\n',
    })
    assert rc == 1
    assert "src/core/main.c:1" in out and "core may not include net" in out
    assert "src/drivers/netdev.h:1" in out and "drivers may not include net" in out
    assert "api and apps are siblings" in out
    assert "src/drivers/pci.c:1" in out and "private to src/core/metal/" in out
    assert "no such layer 'nowhere'" in out
    assert "5 include(s) against the layers" in out
