#!/bin/sh
# gen_tar.sh — writes the seed corpus of fuzz_tar (test/fuzz/corpus/tar/):
# small archives GNU tar writes (-b 1: no padding to 10 KiB) in its three
# formats, from folders with directories, a symlink inside the root and
# one leaving it, a hard link, long names and a pollux.json. Re-run to
# refresh; the archives' mtimes are fixed so the seeds are reproducible.
set -eu
out=$(cd "$(dirname "$0")" && pwd)/tar
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out" "$work/s/css" "$work/s/blog/2024"
cd "$work"
printf '<h1>home</h1>\n' > s/index.html
printf 'body { margin: 0 }\n' > s/css/main.css
printf '<p>post</p>\n' > s/blog/2024/index.html
printf '{"name":"seed","app":"echo"}\n' > pollux.json
ln -s blog/2024/index.html s/latest.html
ln -s ../../etc/passwd s/css/escape
ln s/css/main.css s/css/same.css
long=s/blog/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
mkdir -p "$long"
printf 'deep\n' > "$long/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.txt"
opts="-b 1 --sort=name --owner=0 --group=0 --numeric-owner --mtime=@1700000000"
for f in gnu pax; do
	po=; [ $f = pax ] && po="--pax-option=delete=atime,delete=ctime"
	tar $opts $po --format=$f -cf "$out/site_$f.tar" -C s .
	tar $opts $po --format=$f -cf "$out/boot_$f.tar" pollux.json -C s .
done
# ustar cannot hold the long name: without it
rm -rf "$long"
tar $opts --format=ustar -cf "$out/site_ustar.tar" -C s .
tar $opts --format=ustar -cf "$out/boot_ustar.tar" pollux.json -C s index.html
tar $opts --format=pax --pax-option=delete=atime,delete=ctime -cf "$out/one_file.tar" -C s index.html
ls -l "$out"
