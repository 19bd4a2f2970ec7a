#!/usr/bin/env python3
"""Writes a plain-text file as a simple PDF (Helvetica, Letter pages), for the demo corpus.

Usage: scripts/make-pdf.py INPUT.txt OUTPUT.pdf
Only ASCII text is supported (the standard Helvetica font's WinAnsi encoding). The generated PDF
is committed; this script documents how it was made.
"""
import sys
import textwrap


def escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def main(source: str, target: str) -> None:
    paragraphs = open(source, encoding="ascii").read().split("\n\n")
    lines = []
    for i, paragraph in enumerate(paragraphs):
        text = " ".join(paragraph.split())
        lines.extend(textwrap.wrap(text, 88) or [""])
        lines.append("")
    per_page = 46
    pages = [lines[i:i + per_page] for i in range(0, len(lines), per_page)]
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"]
    kids = []
    for page in pages:
        stream = "BT /F1 11 Tf 60 740 Td 15 TL\n" + "".join(f"({escape(l)}) Tj T*\n" for l in page) + "ET"
        page_id = len(objects) + 1
        kids.append(f"{page_id} 0 R")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> /Contents {page_id + 1} 0 R >>")
        objects.append(f"<< /Length {len(stream.encode())} >>\nstream\n{stream}\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(pages)} >>"
    out = "%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out.encode()))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out.encode())
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n" + "".join(f"{o:010d} 00000 n \n" for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info << /Title (Serving checklist) >> >>\nstartxref\n{xref}\n%%EOF\n"
    open(target, "wb").write(out.encode("ascii"))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
