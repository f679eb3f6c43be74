#!/usr/bin/env python3
"""The public API of the `rawarrow` crate as a sorted list, one item per line, from rustdoc's
JSON output; CI compares it with `tests/public-api.txt` so that the surface changes only on
purpose (and the change shows in review).

    RUSTC_BOOTSTRAP=1 cargo rustdoc --lib -p rawarrow -- -Z unstable-options --output-format json
    python3 tests/public_api.py target/doc/rawarrow.json > tests/public-api.txt   # to accept a change
    python3 tests/public_api.py target/doc/rawarrow.json --check tests/public-api.txt

Checked first: at most 520 items (500 until the lazy scans' planners, `rawarrow::scan`), none
of the CLI, none reachable under two paths, no type of the kernels crate in a signature.

Listed: modules, re-exports, structs (public fields), enums (variants), traits, functions and
methods of inherent impls with their parameter and return types, constants, statics and type
aliases, each under the path a caller writes. Trait implementations are not listed.
"""

import difflib
import json
import sys


def ty(t):
    """A rustdoc JSON type as Rust-like text (enough to see a signature change)."""
    if t is None:
        return "()"
    (kind, v), = t.items()
    if kind == "primitive":
        return v
    if kind == "generic":
        return v
    if kind == "resolved_path":
        args = v.get("args") or {}
        inner = ""
        if "angle_bracketed" in args:
            parts = []
            for a in args["angle_bracketed"]["args"]:
                if "type" in a:
                    parts.append(ty(a["type"]))
                elif "lifetime" in a:
                    parts.append(a["lifetime"])
                elif "const" in a:
                    parts.append(str(a["const"].get("expr", "_")))
            for c in args["angle_bracketed"].get("constraints", []):
                binding = c.get("binding", {})
                if "equality" in binding and "type" in binding["equality"]:
                    parts.append(f"{c['name']} = {ty(binding['equality']['type'])}")
            if parts:
                inner = "<" + ", ".join(parts) + ">"
        elif "parenthesized" in args:
            p = args["parenthesized"]
            inner = "(" + ", ".join(ty(x) for x in p["inputs"]) + ")"
            if p.get("output"):
                inner += " -> " + ty(p["output"])
        return v["path"] + inner
    if kind == "borrowed_ref":
        return "&" + ("mut " if v["is_mutable"] else "") + ty(v["type"])
    if kind == "raw_pointer":
        return "*" + ("mut " if v["is_mutable"] else "const ") + ty(v["type"])
    if kind == "slice":
        return "[" + ty(v) + "]"
    if kind == "array":
        return "[" + ty(v["type"]) + "; " + str(v["len"]) + "]"
    if kind == "tuple":
        return "(" + ", ".join(ty(x) for x in v) + ")"
    if kind == "impl_trait":
        return "impl " + " + ".join(bound(b) for b in v)
    if kind == "dyn_trait":
        return "dyn " + " + ".join(x["trait"]["path"] for x in v["traits"])
    if kind == "qualified_path":
        return f"<{ty(v['self_type'])}>::{v['name']}"
    if kind == "function_pointer":
        sig = v["sig"]
        return "fn(" + ", ".join(ty(x[1]) for x in sig["inputs"]) + ") -> " + ty(sig.get("output"))
    return kind


def bound(b):
    if "trait_bound" in b:
        return ty({"resolved_path": b["trait_bound"]["trait"]})
    return b.get("outlives", "?")


def sig(f):
    s = f["sig"]
    def param(name, t):
        if name == "self":
            # self, &self, &mut self (rustdoc types the receiver as Self).
            return ty(t).replace("Self", "self")
        return f"{name}: {ty(t)}"

    params = ", ".join(param(name, t) for name, t in s["inputs"])
    out = s.get("output")
    return f"({params})" + (f" -> {ty(out)}" if out is not None else "")


def walk(doc):
    idx = doc["index"]
    out = set()

    def item(i):
        return idx.get(str(i))

    def visit(it, path, seen):
        if it is None or it["id"] in seen:
            return
        seen = seen | {it["id"]}
        (kind, inner), = it["inner"].items()
        if kind == "module":
            out.add(f"mod {path}")
            for c in inner["items"]:
                child = item(c)
                if child is None or child["visibility"] != "public":
                    continue
                if "use" in child["inner"]:
                    u = child["inner"]["use"]
                    target = item(u["id"]) if u["id"] is not None else None
                    if u["is_glob"]:
                        if target is not None and "module" in target["inner"]:
                            for g in target["inner"]["module"]["items"]:
                                gi = item(g)
                                if gi is not None and gi["visibility"] == "public" and gi["name"]:
                                    visit(gi, f"{path}::{gi['name']}", seen)
                        continue
                    if target is None:
                        out.add(f"use {path}::{u['name']} = {u['source']}")
                    else:
                        visit(target, f"{path}::{u['name']}", seen)
                else:
                    visit(child, f"{path}::{child['name']}", seen)
        elif kind == "struct":
            out.add(f"struct {path}")
            k = inner["kind"]
            if "plain" in k:
                for fid in k["plain"]["fields"]:
                    f = item(fid)
                    if f is not None and f["visibility"] == "public":
                        out.add(f"field {path}::{f['name']}: {ty(f['inner']['struct_field'])}")
            impls(inner["impls"], path)
        elif kind == "enum":
            out.add(f"enum {path}")
            for vid in inner["variants"]:
                v = item(vid)
                out.add(f"variant {path}::{v['name']}")
            impls(inner["impls"], path)
        elif kind == "union":
            out.add(f"union {path}")
        elif kind == "trait":
            out.add(f"trait {path}")
            for m in inner["items"]:
                mi = item(m)
                if mi is not None and "function" in mi["inner"]:
                    out.add(f"fn {path}::{mi['name']}{sig(mi['inner']['function'])}")
        elif kind == "function":
            out.add(f"fn {path}{sig(inner)}")
        elif kind == "constant":
            out.add(f"const {path}: {ty(inner['type'])}")
        elif kind == "static":
            out.add(f"static {path}: {ty(inner['type'])}")
        elif kind == "type_alias":
            out.add(f"type {path} = {ty(inner['type'])}")
        elif kind in ("macro", "proc_macro"):
            out.add(f"macro {path}")
        else:
            out.add(f"{kind} {path}")

    def impls(ids, path):
        for i in ids:
            imp = item(i)
            if imp is None:
                continue
            im = imp["inner"]["impl"]
            if im["trait"] is not None or im.get("is_synthetic") or im.get("blanket_impl"):
                continue
            for m in im["items"]:
                mi = item(m)
                if mi is None or mi["visibility"] != "public":
                    continue
                if "function" in mi["inner"]:
                    out.add(f"fn {path}::{mi['name']}{sig(mi['inner']['function'])}")
                elif "assoc_const" in mi["inner"]:
                    out.add(f"const {path}::{mi['name']}")

    root = item(doc["root"])
    visit(root, root["name"], frozenset())
    return sorted(out)


LIMIT = 520


def shape_problems(doc, lines):
    """What the API's shape forbids: more than LIMIT items, anything of the CLI, an item
    reachable under two paths, a type of the kernels crate in a signature."""
    problems = []
    if len(lines) > LIMIT:
        problems.append(f"{len(lines)} items: at most {LIMIT}")
    problems += [f"CLI item in the library's API: {l}" for l in lines if "rawarrow::cli" in l]
    idx = doc["index"]
    seen = {}

    def visit(i, path):
        it = idx.get(str(i))
        if it is None or it["visibility"] != "public":
            return
        inner = it["inner"]
        if "use" in inner:
            target = inner["use"]["id"]
            if target is not None and not inner["use"]["is_glob"]:
                visit(target, path + "::" + inner["use"]["name"])
            return
        if it["id"] in seen and seen[it["id"]] != path:
            problems.append(f"listed twice: {seen[it['id']]} and {path}")
            return
        seen[it["id"]] = path
        if "module" in inner:
            for c in inner["module"]["items"]:
                child = idx.get(str(c))
                if child is not None and child.get("name") and "use" not in child["inner"]:
                    visit(c, path + "::" + child["name"])
                elif child is not None and "use" in child["inner"]:
                    visit(c, path)

    visit(doc["root"], "rawarrow")
    kernels = [k for k, c in doc["external_crates"].items() if c["name"] == "rawarrow_kernels"]
    if kernels:
        ids = {i for i, p in doc["paths"].items() if str(p["crate_id"]) in kernels}

        def refs(node):
            if isinstance(node, dict):
                if "resolved_path" in node and str(node["resolved_path"].get("id")) in ids:
                    yield node["resolved_path"]["path"]
                for v in node.values():
                    yield from refs(v)
            elif isinstance(node, list):
                for v in node:
                    yield from refs(v)

        for i, path in seen.items():
            it = idx[str(i)]
            items = [it]
            for impl_id in it["inner"].get("struct", it["inner"].get("enum", {})).get("impls", []):
                imp = idx.get(str(impl_id))
                if imp and imp["inner"]["impl"]["trait"] is None:
                    items += [idx[str(m)] for m in imp["inner"]["impl"]["items"]
                              if str(m) in idx and idx[str(m)]["visibility"] == "public"]
            for x in items:
                for r in refs(x["inner"]):
                    where = path if x is it else f"{path}::{x.get('name')}"
                    problems.append(f"kernels type {r} in {where}")
    return problems


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    doc = json.load(open(sys.argv[1]))
    lines = walk(doc)
    problems = shape_problems(doc, lines)
    if problems:
        sys.stdout.writelines(p + "\n" for p in problems)
        sys.exit("the public API's shape is wrong (above)")
    if len(sys.argv) == 4 and sys.argv[2] == "--check":
        want = open(sys.argv[3]).read().splitlines()
        if want != lines:
            sys.stdout.writelines(
                l + "\n" for l in difflib.unified_diff(want, lines, sys.argv[3], "this checkout", lineterm="")
            )
            sys.exit(
                "the public API changed (above). If that is on purpose, regenerate the list:\n"
                f"  python3 tests/public_api.py {sys.argv[1]} > {sys.argv[3]}"
            )
        print(f"public API unchanged: {len(lines)} items")
        return
    print("\n".join(lines))


if __name__ == "__main__":
    main()
