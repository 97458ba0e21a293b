"""curve.png (issue 17 item 18): a y label, a title naming spec and data, lr halvings and the best epoch."""
from types import SimpleNamespace

import pytest

from rnnalg.train.monitor import curve_figure, curve_title

pytest.importorskip("matplotlib")


def record(epoch, valid, lr):
    return {"epoch": epoch, "train_loss": valid + 0.1, "valid": valid, "lr": lr}


def test_the_curve_marks_halvings_and_the_best_epoch_and_names_spec_and_data():
    history = [record(1, 9.0, 1e-3), record(2, 8.7, 1e-3), record(3, 8.8, 1e-3), record(4, 8.75, 5e-4),
               record(5, 8.9, 5e-4), record(6, 8.8, 2.5e-4)]
    fig = curve_figure(history, "NLL per frame", title="dts.rnn on jsb (JSB_Chorales.json)")
    [ax] = fig.axes
    assert ax.get_ylabel() == "NLL per frame" and ax.get_title() == "dts.rnn on jsb (JSB_Chorales.json)"
    halvings = [line.get_xdata()[0] for line in ax.lines if line.get_linestyle() == ":"]
    assert halvings == [3.5, 5.5]  # after epochs 3 and 5, whose ends halved the lr
    [star] = [line for line in ax.lines if line.get_marker() == "*"]
    assert (list(star.get_xdata()), list(star.get_ydata())) == ([2], [8.7])
    assert "best valid 8.7000 (epoch 2)" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert ax.get_legend().get_bbox_to_anchor().y0 < ax.bbox.y0  # below the axes, off the data
    assert ax.xaxis.get_major_locator()._integer


def test_the_title_names_the_spec_file_and_the_data_file():
    model = SimpleNamespace(program=SimpleNamespace(file="/x/examples/dts.rnn"))
    assert curve_title(model, SimpleNamespace(name="jsb", source="/pkg/jsb_chorales.npz")) == \
        "dts.rnn on jsb (jsb_chorales.npz)"
    assert curve_title(model, SimpleNamespace(name="jsb", source="/tmp/jsb.json")) == "dts.rnn on jsb (jsb.json)"
