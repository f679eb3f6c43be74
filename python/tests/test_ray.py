"""rawarrow.ray on a real Ray cluster: a head without CPUs and two worker nodes of one CPU each,
on loopback (ray.cluster_utils.Cluster). The datasets must equal the single-process reads."""

import collections

import pyarrow as pa
import pytest
import ray
from ray.cluster_utils import Cluster
from ray.data.datasource import ReadTask

import rawarrow
import rawarrow.ray
from conftest import DATA, bams, bgzf_blocks, midi_inputs, repeat_bam, tdf_runs


@pytest.fixture(scope="module")
def cluster():
    # Object stores large enough for the biggest dataset (a 9 M-peak run, pulled whole into the
    # driver's node) so nothing spills to a disk that a CI machine may have nearly filled.
    store = 1 << 30
    c = Cluster(initialize_head=True, head_node_args={
        "num_cpus": 0, "object_store_memory": store,
        "_system_config": {"local_fs_capacity_threshold": 0.99}})
    for _ in range(2):
        c.add_node(num_cpus=1, object_store_memory=store)
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    ray.data.DataContext.get_current().enable_progress_bars = False
    workers = {n["NodeID"] for n in ray.nodes() if n["Alive"] and n["Resources"].get("CPU", 0) > 0}
    assert len(workers) == 2, ray.nodes()
    yield workers
    ray.shutdown()
    c.shutdown()


def rows(table: pa.Table) -> pa.Table:
    """A table's rows as a multiset: dictionary columns decoded, sorted by every column (pyarrow
    sorts lists and nulls too), so two tables compare equal when they hold the same rows."""
    cols = []
    for c in table.columns:
        if pa.types.is_dictionary(c.type):
            c = c.cast(c.type.value_type)
        cols.append(c)
    t = pa.table(cols, names=table.column_names).combine_chunks()
    keys = [(n, "ascending") for n, f in zip(t.column_names, t.schema)
            if not pa.types.is_list(f.type) and not pa.types.is_large_list(f.type)]
    return t.sort_by(keys)


def dataset_table(ds) -> pa.Table:
    return pa.concat_tables([ray.get(ref) for ref in ds.to_arrow_refs()])


def node_recording(base):
    """The datasource `base`, with each block tagged by the node its read task ran on."""

    class Recording(base):
        def get_read_tasks(self, parallelism, per_task_row_limit=None, data_context=None):
            def tagged(task):
                def read():
                    node = ray.get_runtime_context().get_node_id()
                    for t in task.read_fn():
                        yield t.append_column("node", pa.array([node] * t.num_rows, pa.string()))
                return ReadTask(read, task.metadata)

            return [tagged(t) for t in super().get_read_tasks(parallelism)]

    return Recording


NodeRecording = node_recording(rawarrow.ray.BamDatasource)


@pytest.mark.parametrize("bam", [b for b, _ in bams()], ids=lambda b: b.name)
def test_bam_dataset_equals_the_single_process_read(cluster, bam):
    whole = pa.table(rawarrow.read_bam(bam))
    size = bam.stat().st_size
    split = max(7_919, size // 9)  # several splits per file, most starting mid-block
    source = NodeRecording(bam, split_bytes=split)
    ds = ray.data.read_datasource(source)
    got = dataset_table(ds)
    nodes = set(got.column("node").to_pylist())
    got = got.drop(["node"])
    assert got.num_rows == whole.num_rows
    assert rows(got) == rows(whole)
    assert len(source._splits) >= min(9, size // 7_919)
    assert nodes <= cluster


def test_read_tasks_run_on_both_worker_nodes(cluster, tmp_path):
    big = tmp_path / "big.bam"
    records = repeat_bam(DATA / "sample.bam", big, 24 << 20)
    source = NodeRecording(big, columns=["qname", "flag"], split_bytes=1 << 20)
    got = dataset_table(ray.data.read_datasource(source))
    assert got.num_rows == records and len(source._splits) >= 24
    nodes = collections.Counter(got.column("node").to_pylist())
    assert set(nodes) == cluster, f"rows per node: {nodes}; workers: {cluster}"


def test_projection_tags_and_empty_splits(cluster):
    sample = DATA / "sample.bam"
    whole = pa.table(rawarrow.read_bam(sample, columns=["qname", "pos"], tags=["NM"]))
    # 7,919-byte splits: more splits than blocks, so many hold no block start at all.
    ds = rawarrow.ray.read_bam(str(sample), columns=["qname", "pos"], tags=["NM"], split_bytes=7_919)
    assert ds.schema().names == ["qname", "pos", "NM"]
    got = dataset_table(ds)
    assert rows(got) == rows(whole)
    # One empty split alone: zero rows, the schema kept.
    empty = rawarrow.read_bam(sample, byte_range=(100_000, 100_001), columns=["qname", "pos"])
    t = pa.table(empty)
    assert t.num_rows == 0 and t.column_names == ["qname", "pos"]
    tables = list(rawarrow.ray._tables(rawarrow.read_bam(sample, byte_range=(100_000, 100_001))))
    assert len(tables) == 1 and tables[0].num_rows == 0 and len(tables[0].schema) == 14


def test_a_corrupt_block_reaches_the_driver_with_file_and_offset(cluster, tmp_path):
    data = bytearray((DATA / "sample.bam").read_bytes())
    blocks = bgzf_blocks(bytes(data))
    offset, block = blocks[len(blocks) // 2]
    data[offset + len(block) - 8] ^= 0xFF  # the CRC32 of a block in the middle
    bad = tmp_path / "bad.bam"
    bad.write_bytes(bytes(data))
    ds = rawarrow.ray.read_bam(str(bad), split_bytes=100_000)
    with pytest.raises(Exception) as e:
        ds.count()
    text = str(e.value)
    assert str(bad) in text and f"compressed offset {offset}" in text and "CRC32" in text, text


def test_tdf_and_midi_datasets_equal_single_process_reads(cluster, tmp_path_factory):
    for run in tdf_runs(tmp_path_factory):
        whole = pa.table(rawarrow.read_tdf(run))
        peaks_per_split = max(1, whole.num_rows // 3)
        ds = rawarrow.ray.read_tdf(str(run), peaks_per_split=peaks_per_split)
        assert rows(dataset_table(ds)) == rows(whole), run
    for inputs in midi_inputs():
        whole = pa.table(rawarrow.read_midi(inputs))
        ds = rawarrow.ray.read_midi(str(inputs), files_per_split=4)
        got = dataset_table(ds)
        assert rows(got) == rows(whole), inputs
        files = dataset_table(rawarrow.ray.read_midi(str(inputs), files_per_split=4, table="files"))
        assert rows(files) == rows(pa.table(rawarrow.read_midi(inputs, table="files")))


def test_a_bucket_prefix_is_read_with_no_shared_filesystem(cluster, tmp_path):
    """The BAMs exist only in an S3 store (moto_server on loopback): the driver lists and sizes
    them, each task fetches its byte range; rows equal the single-process reads."""
    import servers

    store = servers.Moto(servers.moto_server())
    try:
        inputs = sorted({DATA / "sample.bam", max((b for b, _ in bams()), key=lambda b: b.stat().st_size)})
        for bam in inputs:
            store.put("onlyhere", f"runs/{bam.name}", bam)
        store.put("onlyhere", "runs/notes.txt", DATA / "sample.sam.gz")  # not a .bam: not planned
        options = {
            "aws_endpoint": store.endpoint, "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing-secret", "aws_region": "us-east-1",
            "aws_allow_http": "true",
        }
        split = max(7_919, sum(b.stat().st_size for b in inputs) // 12)
        source = NodeRecording("s3://onlyhere/runs/", split_bytes=split, storage_options=options)
        planned = {p for p, _, _ in source._splits}
        assert planned == {f"s3://onlyhere/runs/{b.name}" for b in inputs}
        assert len(source._splits) > len(inputs)
        got = dataset_table(ray.data.read_datasource(source))
        nodes = set(got.column("node").to_pylist())
        got = got.drop(["node"])
        whole = pa.concat_tables([pa.table(rawarrow.read_bam(b)) for b in inputs])
        assert got.num_rows == whole.num_rows
        assert rows(got) == rows(whole)
        assert len(nodes) == 2, "both worker nodes read"
    finally:
        store.close()


def test_a_tdf_run_in_a_bucket_is_read_with_no_shared_filesystem(cluster, tmp_path_factory):
    """The run exists only in an S3 store: the driver plans frame groups from its analysis.tdf,
    each task fetches that and its own frames' blobs; rows equal the single-process read."""
    import servers

    store = servers.Moto(servers.moto_server())
    try:
        runs = tdf_runs(tmp_path_factory)
        run = max(runs, key=lambda r: (r / "analysis.tdf_bin").stat().st_size)
        for f in run.iterdir():
            store.put("onlyhere", f"tdf/run.d/{f.name}", f)
        options = {
            "aws_endpoint": store.endpoint, "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing-secret", "aws_region": "us-east-1",
            "aws_allow_http": "true",
        }
        whole = pa.table(rawarrow.read_tdf(run))
        source = node_recording(rawarrow.ray.TdfDatasource)(
            "s3://onlyhere/tdf/run.d", peaks_per_split=max(1, whole.num_rows // 6),
            storage_options=options,
        )
        assert len(source._splits) >= 4
        got = dataset_table(ray.data.read_datasource(source))
        nodes = set(got.column("node").to_pylist())
        got = got.drop(["node"])
        assert got.num_rows == whole.num_rows
        assert rows(got) == rows(whole)
        assert len(nodes) == 2, "both worker nodes read"
        ds = rawarrow.ray.read_tdf("s3://onlyhere/tdf/run.d/", peaks_per_split=max(1, whole.num_rows // 3),
                                   storage_options=options, ms_level=1)
        assert rows(dataset_table(ds)) == rows(pa.table(rawarrow.read_tdf(run, ms_level=1)))
    finally:
        store.close()


def test_a_cram_file_splits_across_the_cluster(cluster, tmp_path):
    """CRAM 3.1 cut into byte ranges, each task finding its first container by CRC32: the
    dataset equals the single-process read (every record once)."""
    import subprocess

    from conftest import random_reference, samtools_or_skip

    samtools_or_skip()
    bam = DATA / "sample.bam"
    fa = random_reference(bam, tmp_path / "ref.fa", 11)
    cram = tmp_path / "x.cram"
    subprocess.run(["samtools", "view", "-C", "--no-PG", "-T", fa, "--output-fmt-option",
                    "version=3.1", "--output-fmt-option", "seqs_per_slice=500", bam, "-o", cram],
                   check=True)
    whole = pa.table(rawarrow.read_bam(cram, reference=fa))
    assert whole.num_rows == 4000
    source = NodeRecording(cram, split_bytes=max(4_096, cram.stat().st_size // 5), reference=fa)
    got = dataset_table(ray.data.read_datasource(source)).drop(["node"])
    assert len(source._splits) >= 5
    assert got.num_rows == whole.num_rows
    assert rows(got) == rows(whole)
    # The same CRAM only in an S3 store, planned from its prefix (with a BAM beside it): each
    # task fetches its own containers.
    import servers

    store = servers.Moto(servers.moto_server())
    try:
        store.put("crams", "runs/x.cram", cram)
        store.put("crams", "runs/y.bam", bam)
        options = {
            "aws_endpoint": store.endpoint, "aws_access_key_id": "testing",
            "aws_secret_access_key": "testing-secret", "aws_region": "us-east-1",
            "aws_allow_http": "true",
        }
        source = NodeRecording("s3://crams/runs/", split_bytes=max(4_096, cram.stat().st_size // 5),
                               reference=fa, storage_options=options)
        assert {p for p, _, _ in source._splits} == {"s3://crams/runs/x.cram", "s3://crams/runs/y.bam"}
        got = dataset_table(ray.data.read_datasource(source)).drop(["node"])
        both = pa.concat_tables([whole, pa.table(rawarrow.read_bam(bam))])
        assert got.num_rows == both.num_rows == 8000
        assert rows(got) == rows(both)
    finally:
        store.close()
