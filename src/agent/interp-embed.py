#!/usr/bin/env python3
# Build helper: turns a driver (interp-kernel.py, .js) into a C header holding its text as one
# NUL-terminated string (the agent passes it to `python3 -c` / `node -e`, so templates need
# no file of ours). usage: interp-embed.py INPUT OUTPUT VARIABLE
import sys

src = open(sys.argv[1], "rb").read()
if b"\0" in src:
    sys.exit("interp-embed: NUL byte in " + sys.argv[1])
out = ["/* Generated from %s by interp-embed.py; do not edit. */" % sys.argv[1].rsplit("/", 1)[-1], "",
       "static const char %s[] = {" % sys.argv[3]]
for i in range(0, len(src), 16):
    out.append("        " + ", ".join("0x%02x" % b for b in src[i:i + 16]) + ",")
out.append("        0x00,")
out.append("};")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
