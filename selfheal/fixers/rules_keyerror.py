"""KeyError on a subscript of a request/event payload: read the key with ``.get`` and a default
inferred from how the value is used, or guard the statement. Lookups in constant tables, stores
and ``os.environ`` are not payloads: a default there would hide a data or configuration error,
so this template leaves them alone (the fixer then abstains)."""

from __future__ import annotations

import ast
import re

from selfheal.fixers.rules_common import (
    Candidate,
    Site,
    func_of,
    is_pure,
    nodes_on_line,
    replace_node,
    stmt_of,
)
from selfheal.fixers.rules_guard import guard_candidates, guard_edits, usage_default
from selfheal.fixers.rules_shape import downstream_failure

PAYLOAD_WORDS = re.compile(
    r"(event|payload|body|data|request|req|record|row|message|msg|params|query|headers|config|cfg|"
    r"settings|item|entry|doc|document|obj|response|resp|json|meta|metadata|attributes|attrs|fields|"
    r"options|opts|detail|details|args|kwargs|form|hook|notification|input|"
    r"parsed|raw|content|context|ctx|info|props|properties|spec)s?$",
    re.IGNORECASE,
)


def parse_key(message: str) -> str | int | None:
    """The missing key from a KeyError message (``'order_items'`` or ``42``); None otherwise."""
    text = message.strip()
    m = re.fullmatch(r"'((?:[^'\\]|\\.)*)'|\"((?:[^\"\\]|\\.)*)\"", text)
    if m:
        return m.group(1) if m.group(1) is not None else m.group(2)
    if re.fullmatch(r"-?\d{1,18}", text):
        return int(text)
    return None


def _root_name(node: ast.expr) -> str | None:
    while isinstance(node, ast.Subscript | ast.Attribute | ast.Call):
        if isinstance(node, ast.Call):
            node = node.func
            if isinstance(node, ast.Attribute):
                node = node.value
            continue
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _last_word(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Call):
        return _last_word(node.func)
    return ""


def payload_like(site: Site, mapping: ast.expr) -> tuple[bool, str]:
    """Is ``mapping`` a payload (a request/event/record read from input)? With the reason."""
    src = site.src
    text = src.segment(mapping)
    if text in ("os.environ", "environ") or text.startswith("os.environ"):
        return False, "a missing environment variable is configuration, not a code defect"
    word = _last_word(mapping).lstrip("_")
    root = _root_name(mapping)
    if isinstance(mapping, ast.Name) and (word.isupper() or _module_level(site, word)):
        return False, f"{word} is a lookup table; a default would hide the missing entry"
    if (
        isinstance(mapping, ast.Attribute)
        and isinstance(mapping.value, ast.Name)
        and mapping.value.id == "self"
        and not PAYLOAD_WORDS.search(word)
    ):
        return False, f"self.{word} is the object's own state; the missing key is a logic or data error"
    func = func_of(src, mapping)
    params = {a.arg for a in func.args.args + func.args.kwonlyargs} if func else set()
    if isinstance(mapping, ast.Subscript | ast.Call) or PAYLOAD_WORDS.search(word):
        return True, ""
    if root in params and root not in ("self", "cls"):
        return True, ""
    if isinstance(mapping, ast.Name) and func is not None and _assigned_from_input(func, mapping.id):
        return True, ""
    return False, f"{text or 'the mapping'} does not look like request or event data"


def _module_level(site: Site, name: str) -> bool:
    for node in site.src.tree.body:
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else ([node.target] if isinstance(node, ast.AnnAssign) else [])
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return True
    return False


def _assigned_from_input(func: ast.FunctionDef | ast.AsyncFunctionDef, name: str) -> bool:
    params = {a.arg for a in func.args.args + func.args.kwonlyargs} - {"self", "cls"}
    for node in ast.walk(func):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            value = node.value
            if isinstance(value, ast.Call) and _last_word(value.func) in (
                "loads",
                "load",
                "json",
                "parse",
                "get",
                "safe_load",
                "DictReader",
            ):
                return True
            if isinstance(value, ast.Subscript):
                return True
            if isinstance(value, ast.Call) and (
                PAYLOAD_WORDS.search(_last_word(value.func).lstrip("_"))
                or any(_root_name(a) in params for a in value.args)
            ):
                return True  # parsed from the request: order = _body(event)
        if isinstance(node, ast.For | ast.comprehension) and name in {
            n.id for n in ast.walk(node.target) if isinstance(n, ast.Name)
        }:
            return True
    return False


def _matching_subscripts(site: Site, key: str | int | None) -> list[ast.Subscript]:
    subs = [
        n
        for n in nodes_on_line(site, ast.Subscript)
        if isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load)
    ]
    exact = [s for s in subs if isinstance(s.slice, ast.Constant) and s.slice.value == key]
    if exact:
        return exact
    variable = [s for s in subs if not isinstance(s.slice, ast.Constant | ast.Slice)]
    return variable if len(variable) == 1 else []


def propose(exc_type: str, message: str, sites: list[Site]) -> tuple[list[Candidate], str]:
    """Candidates for a KeyError, or none with the reason."""
    key = parse_key(message)
    reason = "no subscript with that key on the failing line"
    out: list[Candidate] = []
    dropped: list[str] = []  # defaults the downstream code would fail on
    for site in sites:
        subs = _matching_subscripts(site, key)
        pops = _matching_pops(site, key)
        if not subs and not pops:
            continue
        for pop in pops:
            ok, why = payload_like(site, pop.func.value)  # type: ignore[attr-defined]
            if ok:
                out.extend(_pop_candidates(site, pop, key))
            else:
                reason = why
        for sub in subs:
            ok, why = payload_like(site, sub.value)
            if ok:
                out.extend(_candidates(site, sub, key, dropped))
            else:
                reason = why
        break
    if dropped:  # said in the abstain reason once the candidates are spent
        moved = "a default would move the exception: " + "; ".join(dropped)
        return out, moved
    return out, ("" if out else reason)


def _candidates(site: Site, sub: ast.Subscript, key: str | int | None, dropped: list[str]) -> list[Candidate]:
    src = site.src
    mapping, key_src = src.segment(sub.value), src.segment(sub.slice)
    default = usage_default(src, sub)
    where = f"{src.path}:{site.line}"
    cause = (
        f"{where} reads {mapping}[{key_src}] but the payload has no {key!r} key; "
        "the code assumes every request carries it"
    )
    penalty = site.depth * 5
    out: list[Candidate] = []
    get_text = f"{mapping}.get({key_src}{', ' + default if default else ''})"
    edit = replace_node(src, sub, get_text)
    moved = downstream_failure(src, sub, default or "None")
    if moved:  # the default would only move the exception one call further
        dropped.append(f"{get_text}: {moved}")
    elif edit:
        out.append(
            Candidate(
                (edit,),
                cause,
                f"Read {key_src} with .get() defaulting to {default or 'None'}",
                80 - penalty,
                "keyerror.get",
            )
        )
    stmt = stmt_of(src, sub)
    if stmt is not None and is_pure(sub.value) and not isinstance(stmt, ast.While):
        out += guard_candidates(
            guard_edits(src, stmt, f"{key_src} not in {mapping}", {_root_name(sub.value) or ""}),
            cause=cause, when=f"{key_src} is missing from {mapping}", score=60 - penalty, rule="keyerror",
            skip="skip the record")
    if default:
        edit = replace_node(src, sub, f"{mapping}.get({key_src})")
        moved = downstream_failure(src, sub, "None")
        if moved:
            dropped.append(f"{mapping}.get({key_src}): {moved}")
        elif edit:
            out.append(
                Candidate(
                    (edit,),
                    cause,
                    f"Read {key_src} with .get() (None when missing)",
                    40 - penalty,
                    "keyerror.get_none",
                )
            )
    return out


def _matching_pops(site: Site, key: str | int | None) -> list[ast.Call]:
    """``mapping.pop(key)`` calls without a default whose key is the missing one."""
    return [
        n
        for n in nodes_on_line(site, ast.Call)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "pop"
        and len(n.args) == 1
        and not n.keywords
        and isinstance(n.args[0], ast.Constant)
        and n.args[0].value == key
    ]


def _pop_candidates(site: Site, pop: ast.Call, key: str | int | None) -> list[Candidate]:
    src = site.src
    default = usage_default(src, pop) or "None"
    mapping = src.segment(pop.func.value)  # type: ignore[attr-defined]
    edit = replace_node(src, pop, f"{mapping}.pop({src.segment(pop.args[0])}, {default})")
    if edit is None:
        return []
    cause = f"{src.path}:{site.line} pops {key!r} from {mapping}, which does not always carry it"
    return [
        Candidate(
            (edit,), cause, f"Pop {key!r} with a default of {default}", 80 - site.depth * 5, "keyerror.pop"
        )
    ]
