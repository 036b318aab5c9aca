"""reprobe: predict whether a deep network will train, before training it.

One call around any model::

    import reprobe
    c = reprobe.check(model, train_loader)   # fits on part of the data, measures on inputs it held out
    print(c)                                 # e.g. "untrainable at depth 60: input information falls …"
    c.trainable, c.max_trainable_depth, c.xi, c.result   # the verdict as a bool, the numbers, everything

Or step by step::

    from reprobe import CascadeProbe, predict_trainability
    with CascadeProbe(model) as probe:
        result = probe.fit(train_loader).evaluate(test_loader)
    print(predict_trainability(result))
"""

from .core.errors import ReprobeError, ReprobeWarning  # noqa: F401
from . import adapters, data, metrics, models  # noqa: F401
from .probe import CascadeProbe, ProbeConfig, ProbeResult, StageInfo  # noqa: F401
from .analysis import Prediction, predict_trainability  # noqa: F401
from .experiments.check import Check, check  # noqa: F401



def _save_plots(result, folder):
    # ProbeResult.save draws its pictures through this hook: probe/ does not import figures/
    # (and matplotlib loads only when a result is saved with plots).
    from .figures.run import save_plots

    save_plots(result, folder)


def _figure(result, title=None):
    from .figures.run import entropy_figure

    return entropy_figure(result, title)


def _log(result, writer, prefix="reprobe", step=0):
    from .report.tracker import log_result

    log_result(result, writer, prefix=prefix, step=step)


from .probe.result import set_plot_writer, set_result_hook  # noqa: E402

set_plot_writer(_save_plots)
set_result_hook("figure", _figure)
set_result_hook("log", _log)

__version__ = "0.1.0"
__all__ = ["check", "Check", "CascadeProbe", "ProbeConfig", "ProbeResult", "StageInfo", "Prediction", "predict_trainability", "ReprobeError", "ReprobeWarning", "__version__"]
