"""Every public function, class and method of drumd.mappings, drumd.engine and drumd.daemon has
a docstring (#16): it is where a caller finds shapes, units, the errors raised and sources.

Read from the source with ast, nothing imported (importing drumd.daemon would pull in ports and
audio). Public: no leading underscore, at module level or directly in a public class; a
property's setter shares its getter's docstring. A click command is public whatever its
function's name: its docstring is its --help text.
"""
import ast
import importlib.util
import pkgutil
from pathlib import Path

import pytest

PACKAGES = ("drumd.mappings", "drumd.engine", "drumd.daemon")

def _modules():
    """(dotted name, source path) of every module under PACKAGES, found without importing them."""
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        yield package, Path(spec.origin)
        yield from _walk(spec.submodule_search_locations, package + ".")


def _walk(paths, prefix):
    # pkgutil.walk_packages without its import of each subpackage (drumd.daemon.cli's __init__
    # registers every command): iter_modules reads only the file system
    for info in pkgutil.iter_modules(paths, prefix):
        path = Path(info.module_finder.path) / info.name.rsplit(".", 1)[1]
        if info.ispkg:
            yield info.name, path / "__init__.py"
            yield from _walk([str(path)], info.name + ".")
        else:
            yield info.name, path.with_suffix(".py")


def _decorator_names(node):
    names = []
    for d in node.decorator_list:
        target = d.func if isinstance(d, ast.Call) else d
        names.append(ast.unparse(target))
    return names


def _is_command(node):
    return any(n.endswith((".command", ".group")) or n in ("command", "group")
               for n in _decorator_names(node))


def _is_accessor(node):
    return any(n.endswith((".setter", ".deleter")) for n in _decorator_names(node))


def _public(node):
    return not node.name.startswith("_") or _is_command(node)


DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def undocumented(module, path):
    """Qualified names (module.name, module.Class.method) of public definitions in the source file
    at `path` without a docstring."""
    tree = ast.parse(path.read_text(), str(path))
    classes = {n.name: n for n in tree.body if isinstance(n, ast.ClassDef)}
    missing = []
    for node in tree.body:
        if not isinstance(node, DEFS) or not _public(node):
            continue
        if ast.get_docstring(node) is None:
            missing.append(f"{module}.{node.name}")
        if isinstance(node, ast.ClassDef):
            for member in node.body:
                if (isinstance(member, DEFS) and _public(member) and not _is_accessor(member)
                        and ast.get_docstring(member) is None
                        and not _documented_in_base(node, member.name, classes)):
                    missing.append(f"{module}.{node.name}.{member.name}")
    return missing


def _documented_in_base(cls, name, classes):
    """An override takes its docstring from a base class of the same module that documents
    `name`, as inspect.getdoc and pydoc show it (one documented interface, many kinds)."""
    for base in cls.bases:
        parent = classes.get(base.id) if isinstance(base, ast.Name) else None
        if parent is None:
            continue
        for member in parent.body:
            if isinstance(member, DEFS) and member.name == name and ast.get_docstring(member):
                return True
        if _documented_in_base(parent, name, classes):
            return True
    return False


def _all_undocumented():
    return sorted(name for module, path in _modules() for name in undocumented(module, path))


def test_finds_the_modules():
    names = {module for module, _ in _modules()}
    # one module of each layer, deep ones included: a walk that stopped at the top would pass
    assert {"drumd.mappings.basics.grid", "drumd.engine.sampling.sampler",
            "drumd.daemon.cli"} <= names
    assert len(names) > 60


def test_the_checker_sees_a_missing_docstring(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('def f():\n    pass\n\n\ndef _g():\n    pass\n\n\n'
                      'class C:\n    """C."""\n    def m(self):\n        pass\n\n'
                      '    @property\n    def p(self):\n        """P."""\n\n'
                      '    @p.setter\n    def p(self, v):\n        pass\n\n\n'
                      '@click.command("x")\ndef _cmd():\n    pass\n')
    assert undocumented("m", source) == ["m.f", "m.C.m", "m._cmd"]


def test_an_override_of_a_documented_method_is_documented(tmp_path):
    source = tmp_path / "m.py"
    source.write_text('class Base:\n    """B."""\n    def check(self):\n        """Checked."""\n\n'
                      '    def bare(self):\n        pass\n\n\n'
                      'class Kind(Base):\n    """K."""\n    def check(self):\n        pass\n\n'
                      '    def bare(self):\n        pass\n')
    assert undocumented("m", source) == ["m.Base.bare", "m.Kind.bare"]


def test_every_public_definition_has_a_docstring():
    missing = _all_undocumented()
    assert not missing, "public definitions without a docstring:\n  " + "\n  ".join(missing)


if __name__ == "__main__":  # what is missing now, one per line
    print("\n".join(_all_undocumented()))
