#!/usr/bin/python3
"""Writes credence(1) and credence.toml(5) from the built program itself, so that --help and
the man pages cannot drift: credence(1) is the CLI11 help of the command and of every
subcommand (`credence SUB --help`, nested ones too), credence.toml(5) is the commented file
of `credence config template` (the file the Debian package installs).

    make_man.py --credence BUILD/plugin/cli/credence --version 0.1.0 --out DIR

tests/integration/test_man_pages.py checks that every option of every --help is in the man
page and in docs/cli.md.
"""
import argparse
import os
import re
import subprocess

DATE = "2026"  # no build date: reproducible pages


def helptext(credence, path):
    r = subprocess.run([credence] + path + ["--help"], capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"})
    return r.stdout


def parse_help(text):
    """(description, usage, [(section, [(term, desc)])], footer) of one CLI11 help text."""
    lines = text.splitlines()
    desc, usage, sections, footer = [], "", [], []
    section = None
    for line in lines:
        if line.startswith("Usage:"):
            usage = line[len("Usage:"):].strip()
            continue
        m = re.match(r"^([A-Z][A-Za-z ]*):$", line)
        if m:
            section = (m.group(1), [])
            sections.append(section)
            continue
        if section is None:
            if line.strip():
                desc.append(line.strip())
            continue
        if not line.strip():
            continue
        m = re.match(r"^  (\S.*?)(?:\s{2,}(\S.*))?$", line)
        if line.startswith("  ") and m and not line.startswith("   "):
            section[1].append([m.group(1).strip(), (m.group(2) or "").strip()])
        elif line.startswith("   ") and section[1]:
            section[1][-1][1] += " " + line.strip()
        else:
            # Not an item: the footer (CLI11 prints it after the last section).
            footer.append(line.rstrip())
            section = ("", [])
    return " ".join(desc), usage, sections, footer


def roff(s):
    s = s.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + l if l.startswith((".", "'")) else l) for l in s.split("\n"))


def subcommands(sections):
    for name, items in sections:
        if name == "Subcommands":
            return [term.split()[0] for term, _ in items]
    return []


def command_page(credence, version):
    out = [".TH CREDENCE 1 \"%s\" \"credence %s\" \"credence manual\"" % (DATE, version)]
    desc, usage, sections, footer = parse_help(helptext(credence, []))
    out += [".SH NAME", "credence \\- " + roff(desc.split(": ", 1)[-1]),
            ".SH SYNOPSIS", ".B credence", roff(usage.replace("credence", "", 1).strip())]
    out += [".SH DESCRIPTION",
            roff("credence verifies inbound mail: DKIM (RFC 6376), SPF (RFC 7208), DMARC, "
                 "ARC, an Authentication-Results header (RFC 8601) and a score. Each "
                 "subcommand is described below with its options. It reads the configuration "
                 "file credence.toml(5) when one exists; DNS questions go to the system's "
                 "resolvers (/etc/resolv.conf) unless --dns names another server.")]
    out += render_sections(sections, footer)
    queue = [[s] for s in subcommands(sections)]
    while queue:
        path = queue.pop(0)
        d, u, secs, foot = parse_help(helptext(credence, path))
        out += [".SH \"%s\"" % roff("credence " + " ".join(path)).upper(), roff(d), ".PP",
                ".B Usage:", roff(u)]
        out += render_sections(secs, foot, sub=True)
        queue = [path + [s] for s in subcommands(secs)] + queue
    out += [".SH FILES", ".TP", ".I /etc/credence/credence.toml",
            "The configuration file (credence.toml(5)).", ".TP",
            ".I /run/credence/credence.sock", "The socket of credence serve (credence.service).",
            ".SH \"SEE ALSO\"", "credence.toml(5), exim4(8), rspamd(8), spamd(1p)"]
    return "\n".join(out) + "\n"


def render_sections(sections, footer, sub=False):
    out = []
    for name, items in sections:
        if not name or not items:
            continue
        out.append(".SS %s" % roff(name) if sub else ".SH %s" % roff(name).upper())
        for term, desc in items:
            out += [".TP", ".B %s" % roff(term), roff(desc)]
    text = "\n".join(l for l in footer if l.strip())
    if text:
        out += [".PP", roff(text)]
    return out


def config_page(credence, version):
    r = subprocess.run([credence, "config", "template"], capture_output=True, text=True,
                       check=True)
    out = [".TH CREDENCE.TOML 5 \"%s\" \"credence %s\" \"credence manual\"" % (DATE, version),
           ".SH NAME", "credence.toml \\- configuration file of credence",
           ".SH DESCRIPTION",
           roff("/etc/credence/credence.toml is TOML. Every key is optional; a key not given "
                "keeps its built-in default. credence verify, credence serve and the Exim "
                "module read it unless told otherwise (--config FILE, --config none, "
                "Exim's config= option). `credence config check` validates it and prints the "
                "configuration in force. The file as installed, with every key and its "
                "default:"),
           ".PP", ".nf"]
    for line in r.stdout.splitlines():
        out.append(roff(line))
    out += [".fi", ".SH \"SEE ALSO\"", "credence(1)"]
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--credence", required=True)
    ap.add_argument("--version", required=True)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    with open(os.path.join(a.out, "credence.1"), "w") as f:
        f.write(command_page(a.credence, a.version))
    with open(os.path.join(a.out, "credence.toml.5"), "w") as f:
        f.write(config_page(a.credence, a.version))


if __name__ == "__main__":
    main()
