#!/usr/bin/env python3
# Build helper: turns a driver into a C header holding its text as one NUL-terminated
# string (the agent passes it to `python3 -c` / `node -e`, so templates need no file
# of ours). Several inputs are joined in the order given (the Python driver is three
# files sharing one namespace). usage: interp-embed.py OUTPUT VARIABLE INPUT...
import os, sys

# The text is one argv string: Linux refuses a single argument over 128 KiB
# (MAX_ARG_STRLEN), so the driver would not even start.
ARG_MAX = 128 * 1024

out_path, variable, inputs = sys.argv[1], sys.argv[2], sys.argv[3:]
src = b"".join(open(p, "rb").read().rstrip(b"\n") + b"\n\n" for p in inputs)
if b"\0" in src:
    sys.exit("interp-embed: NUL byte in " + " ".join(inputs))
if len(src) >= ARG_MAX:
    sys.exit("interp-embed: %s is %d bytes, over the %d-byte limit of one exec argument"
             % (" + ".join(inputs), len(src), ARG_MAX - 1))
names = ", ".join(os.path.basename(p) for p in inputs)
out = ["/* Generated from %s by interp-embed.py; do not edit. */" % names, "",
       "static const char %s[] = {" % variable]
for i in range(0, len(src), 16):
    out.append("        " + ", ".join("0x%02x" % b for b in src[i:i + 16]) + ",")
out.append("        0x00,")
out.append("};")
open(out_path, "w").write("\n".join(out) + "\n")
