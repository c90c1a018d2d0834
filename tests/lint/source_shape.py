#!/usr/bin/env python3
"""source_shape.py ROOT [DIR...]

Keeps the C++ sources small (CONTRIBUTING.md, "Small pieces"): fails (exit 1) and
prints one line per offence when a file is longer than --max-file-lines (600) or a
function body longer than --max-function-lines (70). DIRs (relative to ROOT)
default to src and sim. Exit: 0 clean, 1 offences found, 2 usage error.

A function is measured from the line of its opening brace to the line of its
closing brace. It is found without a compiler: comments, string and character
literals are blanked, then every '{' met outside a function whose preceding
statement text holds a '(' and is not a control statement opens a function body.
A lambda or local class inside a function counts towards that function. Braces of
a constructor's initializer list (`x_{1}`) are part of its signature.
"""
import argparse
import os
import re
import sys

EXTENSIONS = (".h", ".hh", ".hpp", ".cc", ".cpp", ".cxx", ".cu")
SCOPE_WORDS = re.compile(r"\b(namespace|class|struct|union|enum|extern)\b")
CONTROL = re.compile(r"^\s*(if|for|while|switch|catch|do|else)\b")
CTOR_INIT = re.compile(r"\)\s*(noexcept\s*)?:(?!:)")


def blank_literals(text):
    """The text with comments, strings and chars replaced by spaces (newlines kept)."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif c == "/" and nxt == "*":
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c == "R" and nxt == '"' and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            k = text.find("(", i + 2)
            delim = text[i + 2:k]
            j = text.find(")" + delim + '"', k)
            j = n if j < 0 else j + len(delim) + 2
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
        elif c in "\"'" and not (c == "'" and i > 0 and text[i - 1].isalnum()):
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def functions(text):
    """Yields (first_line, last_line) of every function body in a C++ text."""
    code = blank_literals(text)
    line = 1
    preamble = ""          # statement text since the last ';', '{' or '}' at this scope
    stack = []             # 'scope' (namespace/class/...), 'data' (braced initializer)
    body_start = None      # line of the current function's '{'
    depth_in_body = 0
    i, n = 0, len(code)
    while i < n:
        c = code[i]
        if c == "\n":
            line += 1
        if body_start is not None:
            if c == "{":
                depth_in_body += 1
            elif c == "}":
                depth_in_body -= 1
                if depth_in_body == 0:
                    yield body_start, line
                    body_start = None
                    preamble = ""
            i += 1
            continue
        if c == "{":
            before = preamble.rstrip()
            if CTOR_INIT.search(preamble) and before and (before[-1].isalnum() or before[-1] in "_>"):
                # x_{value} in a constructor's initializer list: skip it, keep the signature.
                depth = 0
                while i < n:
                    if code[i] == "\n":
                        line += 1
                    if code[i] == "{":
                        depth += 1
                    elif code[i] == "}":
                        depth -= 1
                        if depth == 0:
                            break
                    i += 1
                preamble += "{}"
                i += 1
                continue
            if "(" in preamble and not CONTROL.search(preamble) and not SCOPE_WORDS.search(preamble.split("(")[0]) \
                    and "=" not in preamble.split("(")[0]:
                body_start = line
                depth_in_body = 1
            elif SCOPE_WORDS.search(preamble):
                stack.append("scope")
            else:
                stack.append("data")
            preamble = ""
        elif c == "}":
            if stack:
                stack.pop()
            preamble = ""
        elif c == ";":
            preamble = ""
        elif c == ":" and re.search(r"\b(public|private|protected)\s*$", preamble):
            preamble = ""
        elif c == "#" and preamble.strip() == "":
            j = code.find("\n", i)  # a preprocessor line
            while j > 0 and code[j - 1] == "\\":
                j = code.find("\n", j + 1)
            j = n if j < 0 else j
            i = j
            continue
        else:
            preamble += c
        i += 1


def main():
    parser = argparse.ArgumentParser(description="file and function length check")
    parser.add_argument("root")
    parser.add_argument("dirs", nargs="*", default=["src", "sim"])
    parser.add_argument("--max-file-lines", type=int, default=600)
    parser.add_argument("--max-function-lines", type=int, default=70)
    args = parser.parse_args()
    offences = 0
    for d in args.dirs:
        top = os.path.join(args.root, d)
        if not os.path.isdir(top):
            print(f"source_shape: no directory {top}", file=sys.stderr)
            return 2
        for folder, _, names in sorted(os.walk(top)):
            for name in sorted(names):
                if not name.endswith(EXTENSIONS):
                    continue
                path = os.path.join(folder, name)
                rel = os.path.relpath(path, args.root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                lines = text.count("\n")
                if lines > args.max_file_lines:
                    print(f"{rel}: {lines} lines (at most {args.max_file_lines})")
                    offences += 1
                for first, last in functions(text):
                    length = last - first + 1
                    if length > args.max_function_lines:
                        print(f"{rel}:{first}: function of {length} lines (at most {args.max_function_lines})")
                        offences += 1
    if offences:
        print(f"source_shape: {offences} offence(s)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
