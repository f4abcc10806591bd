#!/usr/bin/python3
"""The docs stay true to the tree: every repository path that docs/ and README.md cite exists,
and docs/design.md's table of targets has one line per target of Package.swift, with its
dependencies.

A cited path is a token in backticks or plain text that starts with one of the repository's
top-level folders (Sources/, Tests/, docs/, scripts/, bench/, .ci/) or is Package.swift; a
mention of reference.md (the shared notes beside the repository, not in it) counts as missing.
The targets table is the one under "### The targets": a row per target, its first cell the
name in backticks, its last the targets it uses (other words there, such as libpcap, and
remarks in parentheses are not checked). A target missing from the table, named twice, a row
for a target that is gone, or a dependency list that differs from Package.swift's, is an error.
Exit status 1 and one line per problem when there is any.
"""
import pathlib
import re
import sys

root = pathlib.Path(__file__).resolve().parent.parent


def package_targets(text):
    """{name: set of dependency names} of every target Package.swift declares."""
    targets = {}
    for match in re.finditer(r"\.(?:target|executableTarget|testTarget|systemLibrary|binaryTarget|plugin|macro)\(", text):
        # The call's text up to its closing parenthesis.
        depth, end = 0, match.end() - 1
        for end in range(match.end() - 1, len(text)):
            depth += {"(": 1, ")": -1}.get(text[end], 0)
            if depth == 0:
                break
        call = text[match.end():end]
        name = re.match(r"\s*name:\s*\"([^\"]+)\"", call)
        if name is None:
            continue
        deps = re.search(r"dependencies:\s*\[([^\]]*)\]", call)
        targets[name.group(1)] = set(re.findall(r"\"([^\"]+)\"", deps.group(1))) if deps else set()
    return targets


def design_targets(lines):
    """[(line number, name, uses)] of the rows of design.md's targets table."""
    rows, inside = [], False
    for number, line in enumerate(lines, 1):
        if line.startswith("#"):
            inside = line.strip() == "### The targets"
            continue
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if inside and line.startswith("|") else []
        name = re.fullmatch(r"`(\w+)`", cells[0]) if cells else None
        if name:
            uses = re.sub(r"\([^)]*\)", "", cells[-1])
            rows.append((number, name.group(1), {w.strip().strip("`") for w in uses.split(",")}))
    return rows


def check_targets():
    problems = []
    package = package_targets((root / "Package.swift").read_text())
    design = root / "docs" / "design.md"
    rows = design_targets(design.read_text().splitlines())
    where = design.relative_to(root)
    seen = {}
    for number, name, uses in rows:
        if name in seen:
            problems.append(f"{where}:{number}: target {name} named again (first on line {seen[name]})")
            continue
        seen[name] = number
        if name not in package:
            problems.append(f"{where}:{number}: target {name} is not in Package.swift")
            continue
        written = uses & set(package)
        if written != package[name]:
            lacking = ", ".join(sorted(package[name] - written)) or "none"
            extra = ", ".join(sorted(written - package[name])) or "none"
            problems.append(f"{where}:{number}: {name} uses: not written {lacking}; not in Package.swift {extra}")
    for name in sorted(set(package) - set(seen)):
        problems.append(f"{where}: target {name} of Package.swift has no line in the targets table")
    return problems, len(package)

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
target_problems, target_count = check_targets()
for p in target_problems:
    print("targets:", p)
print(f"check-docs: {len(files)} documents, {len(missing)} missing paths; "
      f"{target_count} targets, {len(target_problems)} problems in design.md's table")
sys.exit(1 if missing or target_problems else 0)
