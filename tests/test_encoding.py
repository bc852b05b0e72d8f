"""Example bytes: canonical (= protobuf deterministic), TFRecord framing readable by TensorFlow."""

from __future__ import annotations

import io
import pickle

import numpy as np
import pytest
import tensorflow as tf

from components import features
from components.conversion import encoding, parsing, tfrecord
from components.conversion.batch import EncodedDrawings, object_array
from tests.support import ndjson_lines


@pytest.fixture(scope="module")
def real_batch(real_dir):
    lines = [t for texts in ndjson_lines(real_dir).values() for t in texts]
    return parsing.parse_lines(lines, 1, "all", parsing.ParseOptions(max_points=20_000)).drawings


def protobuf_example(batch, i: int, class_index: int) -> bytes:
    ink = batch.ink.drawing(i)
    f = tf.train.Feature
    feature = {
        features.INK: f(float_list=tf.train.FloatList(value=ink.flatten())),
        features.SHAPE: f(int64_list=tf.train.Int64List(value=ink.shape)),
        features.CLASS_INDEX: f(int64_list=tf.train.Int64List(value=[class_index])),
        features.WORD: f(bytes_list=tf.train.BytesList(value=[batch.word[i].encode()])),
        features.KEY_ID: f(bytes_list=tf.train.BytesList(value=[batch.key_id[i].encode()])),
        features.COUNTRYCODE: f(bytes_list=tf.train.BytesList(value=[batch.countrycode[i].encode()])),
        features.RECOGNIZED: f(int64_list=tf.train.Int64List(value=[int(batch.recognized[i])])),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def test_bytes_equal_protobuf_deterministic_serialization(real_batch):
    classes = {w: i for i, w in enumerate(sorted(set(real_batch.word)))}
    examples = encoding.encode_examples(real_batch, classes)
    assert len(examples) == len(real_batch)
    for i in range(len(real_batch)):
        assert examples[i] == protobuf_example(real_batch, i, classes[real_batch.word[i]]), i


def test_large_class_index_and_long_drawings_use_multibyte_varints():
    line = b'{"word":"w","key_id":"k","drawing":[[%s,%s]]}' % (
        str(list(range(3000))).encode(),
        str([i % 7 for i in range(3000)]).encode(),
    )
    batch = parsing.parse_lines([line], 1, "f", parsing.ParseOptions(max_points=20_000)).drawings
    (example,) = encoding.encode_examples(batch, {"w": 70_000})
    assert example == protobuf_example(batch, 0, 70_000)


def test_tfrecord_framing_reads_back_in_tensorflow(tmp_path, real_batch):
    records = encoding.encode_examples(real_batch, {w: 0 for w in set(real_batch.word)})[:500]
    path = tmp_path / "shard.tfrecord"
    with open(path, "wb") as f:
        digest = tfrecord.write_records(f, records, chunk=64)
    assert [r.numpy() for r in tf.data.TFRecordDataset(str(path))] == records
    import hashlib

    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    with open(path, "rb") as f:
        assert list(tfrecord.read_records(f)) == records


def test_corrupt_tfrecord_is_detected(real_batch):
    buffer = io.BytesIO()
    tfrecord.write_records(buffer, [b"hello", b"world"])
    data = bytearray(buffer.getvalue())
    data[14] ^= 0xFF  # inside the first record's payload
    with pytest.raises(ValueError, match="corrupt"):
        list(tfrecord.read_records(io.BytesIO(bytes(data))))


def test_seed_parse_spec_reads_the_examples(real_batch):
    classes = {w: i for i, w in enumerate(sorted(set(real_batch.word)))}
    records = encoding.encode_examples(real_batch, classes)[:64]
    parsed = tf.io.parse_example(tf.constant(records), features.seed_parse_spec())
    lengths = [len(real_batch.ink.drawing(i)) for i in range(64)]
    assert parsed["shape"].numpy().tolist() == [[n, 3] for n in lengths]
    assert parsed["class_index"].numpy()[:, 0].tolist() == [classes[w] for w in real_batch.word[:64]]
    ink = tf.sparse.to_dense(parsed["ink"]).numpy()
    np.testing.assert_array_equal(ink[0, : lengths[0] * 3], real_batch.ink.drawing(0).reshape(-1))


def test_encoded_drawings_pickle_compactly_and_exactly():
    batch = EncodedDrawings(
        hash=np.array([3, 1, 2], np.uint64),
        key_id=object_array(["é1", "2", ""]),
        source=object_array(["a", "b", "a"]),
        line=np.array([5, 6, 7]),
        word=object_array(["cat", "cat", "dog"]),
        tail=object_array([b"x\x00y", b"", b"zz"]),
    )
    back = pickle.loads(pickle.dumps(batch))
    for column in ("hash", "key_id", "source", "line", "word", "tail"):
        assert list(getattr(back, column)) == list(getattr(batch, column))
    assert len(pickle.loads(pickle.dumps(EncodedDrawings.empty()))) == 0
