#!/usr/bin/python3
"""Every repository path that docs/ and README.md cite must exist.

A cited path is a token in backticks or plain text that starts with one of the repository's
top-level folders (Sources/, Tests/, docs/, scripts/, bench/, .ci/) or is Package.swift; a
mention of reference.md (the shared notes beside the repository, not in it) counts as missing.
Exit status 1 and one line per missing path when any is missing.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent
tops = ("Sources/", "Tests/", "docs/", "scripts/", "bench/", ".ci/")
pattern = re.compile(r"(?<![\w./-])((?:%s)[\w./@+-]*|Package\.swift)" % "|".join(re.escape(t) for t in tops))
missing = []
files = sorted(root.glob("docs/*.md")) + [root / "README.md"]
for doc in files:
    for number, line in enumerate(doc.read_text().splitlines(), 1):
        for match in pattern.finditer(line):
            path = match.group(1).rstrip(".,:;)")
            # A glob or a placeholder names no one path.
            if any(c in path for c in "*<>") or path.endswith("/..."):
                continue
            if not (root / path).exists():
                missing.append(f"{doc.relative_to(root)}:{number}: {path}")
        if "reference.md" in line:
            missing.append(f"{doc.relative_to(root)}:{number}: reference.md (not in the repository)")
for m in missing:
    print("missing:", m)
print(f"check-docs: {len(files)} documents, {len(missing)} missing paths")
sys.exit(1 if missing else 0)
