"""The kernels' doctests pass the arrays the models pass: on a cold numba cache they run
the versions a model compiles, not one compiled for the example alone."""

import doctest

from conftest import random_ratings
from numba.core.registry import CPUDispatcher

from latentrec.data.splits import random_split
from latentrec.kernels import als, implicit_als, nmf, sgd
from latentrec.models import ALS, NMF, BiasedMF, ImplicitALS

EXAMPLES = {
    als: ["weighted_ridge_loss"],
    implicit_als: ["cg_half_step", "cholesky_half_step"],
    nmf: ["nmf_objective"],
    sgd: ["rmse_cells"],
}


def compiled():
    return {
        (mod.__name__, name, sig)
        for mod in EXAMPLES
        for name, kernel in vars(mod).items()
        if isinstance(kernel, CPUDispatcher)
        for sig in kernel.signatures
    }


def test_the_examples_run_the_models_compiled_kernels():
    data = random_ratings(seed=3)
    train, valid = random_split(data, 0.2, random_state=0)
    BiasedMF(n_factors=2, n_epochs=1).fit(train, validation=valid)  # rmse_cells
    for model in (ALS, NMF, ImplicitALS):
        model(n_factors=2, n_epochs=1).fit(data)
    ImplicitALS(n_factors=2, n_epochs=1, solver="cholesky").fit(data)
    before = compiled()
    ran = 0
    for mod, names in EXAMPLES.items():
        for test in doctest.DocTestFinder().find(mod):
            if test.name.rsplit(".", 1)[-1] in names:
                assert doctest.DocTestRunner().run(test).failed == 0, test.name
                ran += 1
    assert ran == 5
    assert compiled() - before == set()
