"""reprobe: predict whether a deep network will train, before training it.

Three lines around any model::

    from reprobe import CascadeProbe
    probe = CascadeProbe(model)
    result = probe.fit(train_loader).evaluate(test_loader)
    print(predict_trainability(result))   # e.g. "untrainable at depth 60: input information falls …"
"""

from .core.errors import ReprobeError, ReprobeWarning  # noqa: F401
from . import adapters, data, metrics, models  # noqa: F401
from .probe import CascadeProbe, ProbeConfig, ProbeResult, StageInfo  # noqa: F401
from .analysis import Prediction, predict_trainability  # noqa: F401



def _save_plots(result, folder):
    # ProbeResult.save draws its pictures through this hook: probe/ does not import figures/
    # (and matplotlib loads only when a result is saved with plots).
    from .figures.run import save_plots

    save_plots(result, folder)


from .probe.result import set_plot_writer  # noqa: E402

set_plot_writer(_save_plots)

__version__ = "0.1.0"
__all__ = ["CascadeProbe", "ProbeConfig", "ProbeResult", "StageInfo", "Prediction", "predict_trainability", "ReprobeError", "ReprobeWarning", "__version__"]
