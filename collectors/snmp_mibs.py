"""MIB names for OIDs: ``sysLocation.0``, ``IF-MIB::ifDescr``, ``ifDescr.3`` -> numeric OIDs.

pysnmp's MIB builder loads compiled MIB modules from, in order: pysnmp's own (SNMPv2-MIB and
the SNMP framework MIBs); ``COMPILED_DIRS``, Debian's ``python3-pysnmp4-mibs`` (about 260 IETF
and IANA MIBs: IF-MIB, IP-MIB, HOST-RESOURCES-MIB, UPS-MIB, ENTITY-SENSOR-MIB, ...); and the
cache, where pysmi compiles MIB source files found in ``SOURCE_DIRS`` (net-snmp's MIBs from
Debian's ``libsnmp-base``, and the IETF/IANA sources that Debian's ``snmp-mibs-downloader``
puts in ``/usr/share/mibs``; a source compiles only if the sources of its imports are there
too). A name without a module is looked up in ``DEFAULT_MODULES``, in order, as net-snmp does.

``MibResolver.resolve`` returns a numeric OID or raises ``MibError`` with a one-line message
naming the module (or modules) searched; pysnmp is imported on the first name, not before.
"""

from __future__ import annotations

import os
import re
import tempfile
import warnings
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

COMPILED_DIRS = ("/usr/lib/python3/dist-packages/pysnmp_mibs",)
SOURCE_DIRS = ("/usr/share/snmp/mibs", "/usr/share/mibs/ietf", "/usr/share/mibs/iana",
               "/usr/share/mibs/netsnmp")  # fmt: skip
DEFAULT_MODULES = ("SNMPv2-MIB", "IF-MIB", "IP-MIB", "TCP-MIB", "UDP-MIB", "HOST-RESOURCES-MIB",
                   "UCD-SNMP-MIB", "UPS-MIB")  # fmt: skip
HINT = (
    "use a numeric OID, name the module (IF-MIB::ifDescr), or install the MIB: Debian's "
    "python3-pysnmp4-mibs has the IETF MIBs; MIB source files go in /usr/share/snmp/mibs"
)
NUMERIC = re.compile(r"^\.?[0-2](\.\d+)*$")
NAME = re.compile(
    r"^(?:(?P<module>[A-Za-z][\w-]*)::)?(?P<symbol>[A-Za-z][\w-]*)(?P<index>(\.\d+)*)$"
)


class MibError(ValueError):
    """A name that does not resolve; the message is one line."""


def is_numeric(oid: str) -> bool:
    return bool(NUMERIC.match(oid))


def default_cache() -> Path:
    """Where pysmi's compiled modules are kept: ``$XDG_CACHE_HOME/threenines/mibs``."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "threenines" / "mibs"


class MibResolver:
    """Resolves names with one pysnmp MIB builder (built on the first name)."""

    def __init__(
        self,
        compiled: Sequence[str] = COMPILED_DIRS,
        sources: Sequence[str] = SOURCE_DIRS,
        cache_dir: Path | None = None,
    ):
        self.compiled = [d for d in compiled if os.path.isdir(d)]
        self.sources = [d for d in sources if os.path.isdir(d)]
        self.cache_dir = cache_dir or default_cache()
        self._builder: Any = None
        self._missing: dict[str, str] = {}  # module -> why it did not load (tried once)

    @property
    def searched(self) -> str:
        return ", ".join(["pysnmp", *self.compiled, *self.sources]) or "nowhere"

    def resolve(self, name: str) -> str:
        """The numeric OID for ``name`` (a numeric OID comes back as it is, without a dot)."""
        name = name.strip()
        if is_numeric(name):
            return name.lstrip(".")
        m = NAME.match(name)
        if m is None:
            raise MibError(f"{name!r} is neither a numeric OID nor a MIB name (MODULE::name.index)")
        symbol, index = m["symbol"], m["index"]
        if m["module"]:
            oid = self._lookup(m["module"], symbol)
            if oid is None:
                raise MibError(f"{m['module']} has no object {symbol!r}")
        else:
            oid = next(filter(None, (self._lookup(mod, symbol, quiet=True)
                                     for mod in DEFAULT_MODULES)), None)  # fmt: skip
            if oid is None:
                tried = ", ".join(DEFAULT_MODULES)
                raise MibError(f"unknown MIB object {symbol!r} (searched {tried}); "
                               f"name its module as MODULE::{symbol}")  # fmt: skip
        return ".".join(map(str, oid)) + index

    def _lookup(self, module: str, symbol: str, quiet: bool = False) -> tuple[int, ...] | None:
        if module in self._missing:
            if quiet:
                return None
            raise MibError(self._missing[module])
        builder = self._mib_builder()
        try:
            with warnings.catch_warnings():  # Debian's modules use pysnmp 4's (deprecated) names
                warnings.simplefilter("ignore", DeprecationWarning)
                builder.load_modules(module)
        except Exception as exc:  # not found, failed to compile, a broken compiled module
            why = str(exc).split(" caused by ")[0].splitlines()[0][:200]
            what = "not found" if f"{module}: missing" in why or "not found" in why else why
            self._missing[module] = f"MIB module {module}: {what} (searched {self.searched})"
            if quiet:
                return None
            raise MibError(self._missing[module]) from None
        node = builder.mibSymbols.get(module, {}).get(symbol)
        name = getattr(node, "getName", None)
        return tuple(int(x) for x in name()) if callable(name) else None

    def _mib_builder(self) -> Any:
        if self._builder is None:
            from pysnmp.smi import builder

            b = builder.MibBuilder()
            b.loadTexts = False
            cache_dir = _writable(self.cache_dir)
            b.add_mib_sources(*(builder.DirMibSource(d) for d in [*self.compiled, cache_dir]))
            _add_compiler(b, self.compiled, self.sources, cache_dir)
            self._builder = b
        return self._builder


def _writable(path: Path) -> str:
    try:
        path.mkdir(parents=True, exist_ok=True)
        if os.access(path, os.W_OK):
            return str(path)
    except OSError:
        pass
    return tempfile.mkdtemp(prefix="threenines-mibs-")


def _add_compiler(b: Any, compiled: list[str], sources: list[str], dest: str) -> None:
    """pysmi compiles a module found as source into ``dest``; modules already compiled (here,
    in pysnmp or in ``compiled``) are not compiled again."""
    if not sources:
        return
    try:
        from pysmi.codegen.pysnmp import PySnmpCodeGen, baseMibs
        from pysmi.compiler import MibCompiler
        from pysmi.parser.dialect import smi_v1_relaxed
        from pysmi.parser.smi import parserFactory
        from pysmi.reader.localfile import FileReader
        from pysmi.searcher.pyfile import PyFileSearcher
        from pysmi.searcher.pypackage import PyPackageSearcher
        from pysmi.searcher.stub import StubSearcher
        from pysmi.writer.pyfile import PyFileWriter
    except ImportError:  # pysmi not installed: compiled modules only
        return
    compiler = MibCompiler(parserFactory(**smi_v1_relaxed)(), PySnmpCodeGen(), PyFileWriter(dest))
    compiler.add_sources(*(FileReader(d) for d in sources))
    compiler.add_searchers(StubSearcher(*baseMibs), PyPackageSearcher("pysnmp.smi.mibs"),
                           *(PyFileSearcher(d) for d in [dest, *compiled]))  # fmt: skip
    b.set_mib_compiler(compiler, dest)


@cache
def shared() -> MibResolver:
    """One resolver for configuration loading (MIB modules load once per process)."""
    return MibResolver()
