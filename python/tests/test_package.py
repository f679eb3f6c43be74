"""What a user sees of the package: docs for every argument, type stubs, no dependencies."""

import importlib.metadata
import inspect
import pathlib

import rawarrow


def test_every_function_documents_every_argument():
    for f in [rawarrow.read_bam, rawarrow.read_tdf, rawarrow.read_midi,
              rawarrow.convert_bam, rawarrow.convert_tdf, rawarrow.convert_midi]:
        params = inspect.signature(f).parameters
        assert len(params) >= 5, f
        doc = f.__doc__
        for name in params:
            assert name in doc, f"{f.__name__}: argument {name} is not documented"
    for f in [rawarrow.read_bam, rawarrow.read_tdf]:
        assert "Schema:" in f.__doc__
    assert "path" in rawarrow.FormatError.__doc__ and issubclass(rawarrow.FormatError, ValueError)


def test_the_compiled_functions_match_the_stub():
    """Names, order, kinds and defaults of every parameter: the stub is what tests/options.rs
    holds to the library's option list, so the compiled functions must be the stub."""
    import ast

    stub = ast.parse((pathlib.Path(rawarrow.__file__).parent / "__init__.pyi").read_text())
    defs = {d.name: d for d in stub.body if isinstance(d, ast.FunctionDef)}
    for name in ["read_bam", "read_tdf", "read_midi", "convert_bam", "convert_tdf",
                 "convert_midi"]:
        d = defs[name]
        positional = [a.arg for a in d.args.args]
        keyword = [a.arg for a in d.args.kwonlyargs]
        sig = inspect.signature(getattr(rawarrow, name)).parameters
        got_pos = [p for p, v in sig.items() if v.kind != inspect.Parameter.KEYWORD_ONLY]
        got_kw = [p for p, v in sig.items() if v.kind == inspect.Parameter.KEYWORD_ONLY]
        assert got_pos == positional, name
        assert got_kw == keyword, name
        defaults = dict(zip(positional[len(positional) - len(d.args.defaults):], d.args.defaults))
        defaults.update({a.arg: v for a, v in zip(d.args.kwonlyargs, d.args.kw_defaults) if v})
        for p, node in defaults.items():
            want = ast.literal_eval(node)
            assert sig[p].default == want, f"{name}({p}=...): stub {want!r}, compiled {sig[p].default!r}"


def test_stubs_and_metadata_ship_in_the_wheel():
    here = pathlib.Path(rawarrow.__file__).parent
    assert (here / "__init__.pyi").exists() and (here / "py.typed").exists()
    stubs = (here / "__init__.pyi").read_text()
    for name in rawarrow.__all__:
        assert name in stubs, name
    dist = importlib.metadata.distribution("rawarrow")
    assert dist.version == rawarrow.__version__
    assert not dist.requires or all("extra ==" in r for r in dist.requires)
