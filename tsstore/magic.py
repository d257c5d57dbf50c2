"""The ``%tsql`` / ``%%tsql`` IPython magic: Timestream SQL in notebook cells.

``%load_ext tsstore`` registers it. A thin front end over :meth:`tsstore.Client.query`,
:meth:`~tsstore.Client.explain` and :func:`tsstore.plot.chart`:

.. code-block:: text

    %tsql --connect PATH_OR_URL_OR_VARIABLE [--database DB] [--read-only]
    %tsql SELECT ...                      one line
    %%tsql [-o NAME] [--explain] [--plot KIND] [--lazy] [--distributed]
    SELECT ...                            the cell
    %%tsql NAME <<                        jupysql's form of -o NAME

The session's store: the last ``--connect`` (a path, an ``s3://`` URL, or the name of a
notebook variable holding a :class:`~tsstore.Client`, which is the way to share the writer of
a store that the notebook also writes to); without one, ``$TSSTORE_PATH`` or the embedded
default store ``./tsstore-data``.

Python values reach the SQL two ways, both checked:

- ``:name`` binds the notebook variable ``name`` as a typed literal through the syntax tree
  (:func:`tsstore.query.dialect.bind_params`): a quote inside a value stays inside the value;
- ``{name}`` substitutes the variable's text, and only when it is an identifier (``cpu``,
  ``"my db".cpu``, ``db.table``): a table or column name chosen in Python.

Errors (syntax, unknown tables and columns, bad values) are shown as a short message with the
caret under the SQL (an IPython ``UsageError``), not a traceback. A query only reads: stopping
it with the kernel's interrupt button leaves the store as it was.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class, needs_local_scope
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from sqlglot import exp

from tsstore.client import Client, connect
from tsstore.errors import TsstoreError
from tsstore.plot import KINDS, chart
from tsstore.query.dialect import Select, parse_statement
from tsstore.query.progress import ProgressBar

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

__all__ = ["TsqlMagics", "bind_identifiers", "load_ipython_extension", "parameter_names"]

#: ``name <<`` at the start of the SQL: jupysql's way to name the result variable.
_ASSIGN = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*<<\s*(.*)$", re.DOTALL)
#: ``{name}`` where ``name`` is a Python identifier.
_BRACED = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: One SQL identifier, plain or double-quoted; a dotted name is several.
_IDENT_PART = r'(?:[A-Za-z_][A-Za-z0-9_]*|"(?:[^"]|"")+")'
_IDENTIFIER = re.compile(rf"^{_IDENT_PART}(?:\.{_IDENT_PART}){{0,2}}$")


class ExplainText(str):
    """The text of ``--explain``, shown as lines (not as a quoted string) in a notebook."""

    __slots__ = ()

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(str(self))


def parameter_names(sql: str) -> list[str]:
    """The ``:name`` parameters of a statement, in order of first use."""
    stmt = parse_statement(sql)
    if not isinstance(stmt, Select):
        return []
    names = (node.name for node in stmt.ast.find_all(exp.Placeholder))
    return list(dict.fromkeys(n for n in names if n and n != "?"))


def bind_identifiers(sql: str, namespace: Mapping[str, Any]) -> str:
    """Replace ``{name}`` with the value of ``namespace[name]`` when that is an identifier.

    Raises
    ------
    UsageError
        The name is not defined, or its value is not an identifier (anything that could
        change the statement's shape: spaces, quotes, operators, ``;``).
    """

    def substitute(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in namespace:
            raise UsageError(f"{{{name}}}: no variable {name!r} is defined in the notebook")
        value = namespace[name]
        text = value if isinstance(value, str) else None
        if text is None or not _IDENTIFIER.match(text):
            raise UsageError(
                f"{{{name}}} substitutes identifiers only (a table or column name such as "
                f'cpu, db.cpu or "my table"); {name} = {value!r} is not one. Bind values '
                f"with :{name} instead"
            )
        return text

    return _BRACED.sub(substitute, sql)


@magics_class
class TsqlMagics(Magics):
    """``%tsql`` and ``%%tsql`` (see the module docstring)."""

    def __init__(self, shell: InteractiveShell) -> None:
        super().__init__(shell)
        self.client: Client | None = None
        self._owned = False  # whether the magic opened (and so closes) the client

    # -- the session's store ----------------------------------------------------------------
    def _connect(self, target: str, database: str | None, read_only: bool) -> Client:
        namespace = self.shell.user_ns if self.shell is not None else {}
        value = namespace.get(target) if target.isidentifier() else None
        if isinstance(value, Client):
            client = value
            if database is not None:
                client.default_database = database
            self._set(client, owned=False)
            return client
        if target.isidentifier() and target in namespace and not os.path.exists(target):
            raise UsageError(
                f"--connect {target}: the variable {target!r} is a {type(value).__name__}, "
                "not a tsstore client; give a path, an s3:// URL or a client variable"
            )
        try:
            client = connect(target, database=database, read_only=read_only)
        except TsstoreError as e:
            raise UsageError(
                f"cannot open {target!r}: {e}. If this notebook already opened the store, "
                "pass its client: %tsql --connect <variable>"
            ) from e
        self._set(client, owned=True)
        return client

    def _set(self, client: Client, *, owned: bool) -> None:
        if self.client is not None and self._owned and self.client is not client:
            self.client.close()
        self.client, self._owned = client, owned

    def _session(self) -> Client:
        if self.client is None:
            self._connect(os.environ.get("TSSTORE_PATH", "tsstore-data"), None, False)
        assert self.client is not None
        return self.client

    def close(self) -> None:
        """Close the store the magic opened itself (a client from the notebook stays open)."""
        self._set_none()

    def _set_none(self) -> None:
        if self.client is not None and self._owned:
            self.client.close()
        self.client, self._owned = None, False

    # -- the magic ------------------------------------------------------------------------
    @needs_local_scope
    @line_cell_magic
    @magic_arguments()
    @argument("--connect", metavar="PATH_OR_URL", help="open a store (or use a client variable)")
    @argument("--database", metavar="DB", help="default database for unqualified table names")
    @argument("--read-only", action="store_true", help="with --connect: open as a reader")
    @argument("-o", "--output", metavar="NAME", help="assign the result to this variable")
    @argument("--explain", action="store_true", help="show the plan instead of running it")
    @argument("--plot", metavar="KIND", choices=KINDS, help=f"chart the result: {KINDS}")
    @argument("--x", help="with --plot: the x column (default: time)")
    @argument("--y", help="with --plot: comma-separated y columns (default: numeric ones)")
    @argument("--by", help="with --plot: comma-separated series columns")
    @argument("--lazy", action="store_true", help="return a Dask DataFrame")
    @argument("--distributed", action="store_true", help="run the Dask plan")
    def tsql(self, line: str = "", cell: str | None = None, local_ns: Any = None) -> Any:
        """Run Timestream SQL on the session's store; see :mod:`tsstore.magic`."""
        head, sql_line = _split_line(line)
        try:
            args = parse_argstring(self.tsql, head)
        except UsageError:
            raise
        except SystemExit as e:  # argparse on a bad option
            raise UsageError(f"%tsql: bad options {head!r}; see %tsql?") from e
        namespace = dict(self.shell.user_ns) if self.shell is not None else {}
        namespace.update(local_ns or {})
        sql = sql_line.strip()
        if cell is not None:
            sql = f"{sql}\n{cell}" if sql else cell
        output = args.output
        m = _ASSIGN.match(sql)
        if m:
            output, sql = m.group(1), m.group(2)
        if args.connect:
            self._connect(args.connect, args.database, args.read_only)
        elif args.database:
            self._session().default_database = args.database
        if not sql.strip():
            if args.connect or args.database:
                return None  # only (re)connected
            raise UsageError("%tsql: no SQL given; write it after %tsql or in the %%tsql cell")
        client = self._session()
        sql = bind_identifiers(sql, namespace)
        try:
            params = self._params(sql, namespace)
            if args.explain:
                result: Any = ExplainText(client.explain(sql, params))
            elif args.lazy:
                result = client.query(sql, params, lazy=True)
            else:
                with ProgressBar(minimum=PROGRESS_AFTER_S):
                    result = client.query(
                        sql, params, distributed=True if args.distributed else None
                    )
        except TsstoreError as e:
            raise UsageError(str(e)) from None
        except KeyboardInterrupt:
            raise UsageError(
                "query interrupted; a query only reads: the store is unchanged"
            ) from None
        if output:
            if not output.isidentifier():
                raise UsageError(f"-o {output!r}: not a Python variable name")
            self.shell.user_ns[output] = result
        if args.plot and not args.explain:
            if args.lazy:
                raise UsageError("--plot needs a computed result; drop --lazy")
            try:
                return chart(
                    result,
                    args.plot,
                    x=args.x,
                    y=_columns(args.y),
                    by=_columns(args.by),
                )
            except TsstoreError as e:
                raise UsageError(str(e)) from None
        return None if output else result

    def _params(self, sql: str, namespace: Mapping[str, Any]) -> dict[str, Any]:
        names = parameter_names(sql)
        missing = [n for n in names if n not in namespace]
        if missing:
            listed = ", ".join(f":{n}" for n in missing)
            raise UsageError(
                f"{listed}: no notebook variable of that name; define it before the query"
            )
        return {n: namespace[n] for n in names}


#: Options of the magic that take a value (the next token).
_VALUED = frozenset({"--connect", "--database", "-o", "--output", "--plot", "--x", "--y", "--by"})
#: A token of the option part: a quoted string or a run of non-space characters.
_TOKEN = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'[^']*'|\S+")


def _split_line(line: str) -> tuple[str, str]:
    """Split the magic's line into its options and the SQL after them: the SQL starts at the
    first token that is neither an option nor an option's value (so quotes in the SQL are
    never touched by the option parser)."""
    tokens = list(_TOKEN.finditer(line))
    i = 0
    while i < len(tokens):
        tok = tokens[i].group()
        if not tok.startswith("-") or tok == "-":
            return line[: tokens[i].start()], line[tokens[i].start() :]
        i += 2 if tok in _VALUED else 1
    return line, ""


#: A query running longer than this shows a progress bar under the cell.
PROGRESS_AFTER_S = 1.0


def _columns(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [c.strip() for c in text.split(",") if c.strip()]


def load_ipython_extension(ipython: InteractiveShell) -> None:
    """``%load_ext tsstore``: register ``%tsql`` / ``%%tsql``."""
    ipython.register_magics(TsqlMagics)


def unload_ipython_extension(ipython: InteractiveShell) -> None:
    """``%unload_ext tsstore``: close the store the magic opened."""
    magics = ipython.magics_manager.registry.get("TsqlMagics")
    if isinstance(magics, TsqlMagics):
        magics.close()
