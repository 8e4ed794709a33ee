"""``frbtriage convert CHUNKS... -o OUT.fil``: CHIME msgpack chunks to a sigproc filterbank."""

from __future__ import annotations

import argparse

HELP = ("convert CHIME/FRB msgpack chunks (a folder, or chunk files of one beam) into a "
        "32-bit sigproc filterbank for other tools")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of the verb."""
    p.add_argument("chunks", nargs="+", metavar="CHUNKS",
                   help="a folder of *.msgpack chunks, or chunk files (one beam)")
    p.add_argument("-o", "--output", required=True, metavar="OUT.fil",
                   help="filterbank to write (replaced atomically)")
    p.add_argument("--nchan", type=int, default=None,
                   help="average channels down to this many (a divisor of 16384, e.g. 1024)")


def run(args: argparse.Namespace) -> int:
    """Convert (:func:`frbtriage.io.chime_reader.convert_to_sigproc`) and print the header."""
    from frbtriage.io.chime_reader import convert_to_sigproc
    from frbtriage.io.paths import check_output_file

    out = check_output_file(args.output)
    source = args.chunks[0] if len(args.chunks) == 1 else args.chunks
    h = convert_to_sigproc(source, out, nchan=args.nchan)
    print(f"wrote {out}: {h.nchans} channels x {h.nspectra} samples of {h.tsamp * 1e3:.5f} ms "
          f"({h.duration:.2f} s), tstart MJD {h.tstart:.8f}")
    return 0
