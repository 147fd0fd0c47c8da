"""TensorBoard's own reader and writer against earshot's event files.

    python3 tests/reference/tensorboard_check.py read RUNS_DIR
        Loads every run under RUNS_DIR with tensorboard's EventAccumulator and
        prints its scalars and HParams session; exits 1 when a run has none.
    python3 tests/reference/tensorboard_check.py fixtures OUT_DIR
        Writes event files with tensorboard's own EventFileWriter and hparams
        summaries (fixed wall times), which tests/it/tensorboard.rs holds
        earshot's bytes to.

Needs `pip install tensorboard` (no TensorFlow, no torch).
"""
import os
import sys

from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import event_pb2, summary_pb2
from tensorboard.plugins.hparams import plugin_data_pb2, metadata as hp_metadata
from tensorboard.summary.writer.record_writer import RecordWriter
from google.protobuf import struct_pb2


def read(root):
    runs = sorted({d for d, _, files in os.walk(root) if any("tfevents" in f for f in files)})
    if not runs:
        print(f"no event files under {root}")
        return 1
    bad = 0
    for run in runs:
        acc = event_accumulator.EventAccumulator(run, size_guidance={"scalars": 0, "tensors": 0})
        acc.Reload()
        tags = acc.Tags()
        scalars = tags["scalars"]
        print(f"== {os.path.relpath(run, root)}")
        for tag in scalars:
            events = acc.Scalars(tag)
            last = events[-1]
            print(f"  {tag:16s} {len(events):3d} points, last step {last.step}: {last.value:.6g}")
        content = acc.PluginTagToContent("hparams")
        for tag, raw in sorted(content.items()):
            data = plugin_data_pb2.HParamsPluginData.FromString(raw)
            if data.HasField("session_start_info"):
                hp = data.session_start_info.hparams
                shown = ", ".join(f"{k}={_value(hp[k])}" for k in sorted(hp)[:6])
                print(f"  hparams ({len(hp)}): {shown}, ...")
            if data.HasField("session_end_info"):
                print(f"  session end: status {data.session_end_info.status}")
        if not scalars:
            bad += 1
    return 1 if bad else 0


def _value(v):
    kind = v.WhichOneof("kind")
    return getattr(v, kind)


def _write(path, events):
    writer = RecordWriter(open(path, "wb"))
    for event in events:
        writer.write(event.SerializeToString(deterministic=True))
    writer.close()


def fixtures(out):
    os.makedirs(out, exist_ok=True)
    header = event_pb2.Event(wall_time=1700000000.25, file_version="brain.Event:2")
    scalars = []
    for step, tag, value in [(1, "loss/train", 0.953385), (1, "lr", 0.002), (2, "loss/valid", 0.5), (0, "test/auc", 1.0)]:
        summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
        scalars.append(event_pb2.Event(wall_time=1700000001.5 + step, step=step, summary=summary))
    _write(os.path.join(out, "scalars.tfevents"), [header] + scalars)

    # One hyperparameter per session record: protobuf leaves the order of map
    # entries open, so a record of several would not have one right answer.
    starts = []
    for key, value in [("model.hidden", 64), ("model.kind", "rnn"), ("train.tensorboard", True), ("train.zero", 0)]:
        start = plugin_data_pb2.HParamsPluginData(
            session_start_info=plugin_data_pb2.SessionStartInfo(start_time_secs=1700000000.25)
        )
        v = struct_pb2.Value()
        if isinstance(value, bool):
            v.bool_value = value
        elif isinstance(value, str):
            v.string_value = value
        else:
            v.number_value = value
        start.session_start_info.hparams[key].CopyFrom(v)
        starts.append(start)
    end = plugin_data_pb2.HParamsPluginData(
        session_end_info=plugin_data_pb2.SessionEndInfo(status=1, end_time_secs=1700000009.75)
    )
    events = []
    records = [(hp_metadata.SESSION_START_INFO_TAG, s, 1700000000.25) for s in starts]
    records.append((hp_metadata.SESSION_END_INFO_TAG, end, 1700000009.75))
    for tag, data, t in records:
        value = summary_pb2.Summary.Value(
            tag=tag, metadata=hp_metadata.create_summary_metadata(data)
        )
        value.tensor.CopyFrom(hp_metadata.NULL_TENSOR)
        events.append(event_pb2.Event(wall_time=t, summary=summary_pb2.Summary(value=[value])))
    _write(os.path.join(out, "hparams.tfevents"), events)
    print(f"wrote {out}/scalars.tfevents and {out}/hparams.tfevents")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("read", "fixtures"):
        print(__doc__)
        sys.exit(2)
    sys.exit(read(sys.argv[2]) if sys.argv[1] == "read" else fixtures(sys.argv[2]))
