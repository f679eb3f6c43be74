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


def test_stubs_and_metadata_ship_in_the_wheel():
    here = pathlib.Path(rawarrow.__file__).parent
    assert (here / "__init__.pyi").exists() and (here / "py.typed").exists()
    stubs = (here / "__init__.pyi").read_text()
    for name in rawarrow.__all__:
        assert name in stubs, name
    dist = importlib.metadata.distribution("rawarrow")
    assert dist.version == rawarrow.__version__
    assert not dist.requires or all("extra ==" in r for r in dist.requires)
