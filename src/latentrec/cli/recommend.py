"""Answers from a saved model: ``recommend``, ``recommend-all``, ``similar``, ``explain``."""

from __future__ import annotations

import json
import os
from dataclasses import replace

import click
import numpy as np
import pandas as pd
import scipy.sparse as sp

from .. import Interactions, load
from ..data import UnknownIdError
from ..pipeline import MMR, Calibrate, Freshness, Pipeline, Rules, StageDataError
from ..pipeline import load as load_model_or_pipeline
from ..pipeline.stages import KNOB_MAX_BOOST, knob_pool
from ._common import (
    Failure,
    FiniteFloatRange,
    check_output,
    data_options,
    emit,
    fail_on_known_errors,
    known_id,
    load_training_data,
    main,
    recommendation_table,
    writing,
)


@main.command()
@click.argument("model_path", metavar="MODEL")  # a folder or no file: one line from load
@click.option("--user", "-u", required=True, help="Raw user id.")
@click.option(
    "-n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="How many items."
)
@click.option("--include-seen", is_flag=True, help="Do not exclude items the user rated.")
@click.option(
    "--diversity",
    type=FiniteFloatRange(0, 1),
    default=None,
    help="Re-rank for diversity (MMR in the latent space, among the best 50 candidates): 0 "
    "keeps the ranking, 1 is most diverse; 0.3 is the setting chosen on MovieLens-100K "
    "validation (for a learned ranker's lists).",
)
@click.option(
    "--calibrate",
    "calibrate_weight",
    type=FiniteFloatRange(0, 1),
    default=None,
    is_flag=False,
    flag_value=0.5,
    help="Match the list's genres to the user's history (weight, 0.5 when given alone; "
    "needs --data with genres).",
)
@click.option(
    "--boost-new",
    # The service's boost_new bound: the command refuses what the service refuses.
    type=FiniteFloatRange(0, KNOB_MAX_BOOST),
    default=None,
    help="Boost recent items by this much (on relevance scaled to [0, 1]; halves every 30 "
    "days of age; needs --data with timestamps).",
)
@click.option(
    "--rules",
    "rules_path",
    # Not click.Path(exists=True, dir_okay=False): check_rules_file says it in one line.
    metavar="FILE",
    default=None,
    help="Business rules from a TOML file (pin, boost, bury, never, max_per).",
)
@click.option(
    "--data",
    "source",
    default=None,
    help="The model's training data (genres, timestamps) for --calibrate, --boost-new, "
    "--rules max_per.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@data_options
@fail_on_known_errors
def recommend(
    model_path,
    user,
    n,
    include_seen,
    diversity,
    calibrate_weight,
    boost_new,
    rules_path,
    source,
    as_json,
    **opts,
):
    """Top-N items for a user (popularity for an unknown user, flagged).

    Every row carries `fallback` (true for the popularity list of an unknown user).  A
    fallback row's score is the model's prediction for a user it does not know (μ + b_i)
    for rating models, and empty (NaN, null in JSON) for ranking models, never a count.
    A rating model's scores show clipped to its rating scale, as predict(clip=True)
    answers them (a note says when one was past it); --json gives the raw scores.

    The re-ranking knobs (--diversity, --calibrate, --boost-new, --rules) run the model
    as the candidate stage of a pipeline (a knob at 0 is off, as in the service): its
    200 best unseen items (5 per slot past -n 40) are re-ranked, as the service re-ranks
    them for its diversity, calibrate and boost_new parameters (--diversity picks among
    the best 50 of them, MMR's default pool). A saved pipeline (MODEL written by
    Pipeline.save) answers as it was built.

    \f
    Example: ``latentrec recommend model.npz --user 1 -n 5 --diversity 0.3 --rules r.toml``
    """
    # Options nothing reads are a mistake to point out, not to ignore.
    reading = [f"--{k.replace('_', '-')}" for k, v in opts.items() if v not in (None, False)]
    if reading and source is None:
        verb = "tells" if len(reading) == 1 else "tell"
        raise click.UsageError(
            f"{', '.join(reading)} {verb} how to read --data, which is not given"
        )
    knobs = (diversity, calibrate_weight, boost_new, rules_path)
    if source is not None and all(k is None for k in knobs):
        raise click.UsageError(
            "--data is read only for --calibrate, --boost-new or --rules; none is given"
        )
    if rules_path is not None:
        check_rules_file(rules_path)  # before the model is loaded
    model = load_model_or_pipeline(model_path)
    not_an_id = ""
    try:
        uid = known_id(model.users_, user)
    except UnknownIdError:
        uid = None  # matches no id: the popularity list of any user the model does not know
        # Text that is no whole number, where the ids are integers: said with the reason.
        not_an_id = f" (its user ids are integers, and {user!r} is not one)"
    stages = []
    # A knob at 0 is off, as the service's query knobs are: a stage that keeps the ranking
    # would still hand the next stage ranks in place of the model's scores.
    if diversity:
        # MMR's other knobs are its defaults: those validated with lambda 0.7 (pool 50).
        stages.append(MMR(lambda_=1.0 - diversity))
    if calibrate_weight:
        stages.append(Calibrate(weight=calibrate_weight))
    if boost_new:
        stages.append(Freshness(weight=boost_new))
    if rules_path is not None:
        stages.append(Rules.from_toml(rules_path))
    if stages:
        if isinstance(model, Pipeline):
            raise Failure(f"{model_path} is a saved pipeline; it re-ranks as it was built")
        if include_seen:
            raise Failure("--include-seen cannot be combined with re-ranking: lists never repeat")
        if diversity and getattr(model, "item_factors_", None) is None:
            # MMR's own refusal speaks of "candidate models", which this command never shows.
            raise Failure(
                f"--diversity compares items in a model's latent space, and {model_path} "
                f"holds a {type(model).__name__}, which has no item factors; train a factor "
                "model (implicit-als, bpr, biased-mf, ...)"
            )
        if source is not None:
            data = load_training_data(model, model_path, source, **opts)
            try:
                model = Pipeline(
                    model, rerankers=stages, n_candidates=knob_pool(n, len(model.items_))
                ).fit(_with_gained_histories(model, data))
            except StageDataError as err:
                # The stage's own words name Calibrate or Freshness; this command's user
                # gave --calibrate or --boost-new, and --data is what lacks the field.
                kind = (err.stage or "").split(" ")[0]
                if kind == "Calibrate":
                    raise Failure(
                        f"--calibrate needs item genres, and --data {source} has none (a "
                        "ratings file has no genres; MovieLens has them)"
                    ) from None
                if kind == "Freshness":
                    raise Failure(
                        f"--boost-new needs item ages, and --data {source} has no timestamps "
                        "(a ratings file gives them with --timestamp-col)"
                    ) from None
                raise
        else:
            # A stage that wants genres, ages or side columns finds none in the model file:
            # say where they come from (and only for those; other faults have their own).
            wanting = [
                f"{flag} needs {what}"
                for flag, what, wants in (
                    ("--calibrate", "item genres", bool(calibrate_weight)),
                    ("--boost-new", "item ages", bool(boost_new)),
                    ("--rules max_per", "item columns", rules_path and stages[-1].max_per),
                )
                if wants
            ]
            if wanting:
                raise Failure(
                    f"{'; '.join(wanting)}, and a model file has no genres, no timestamps "
                    "and no item columns: give the training data with --data"
                )
            model = Pipeline(
                model, rerankers=stages, n_candidates=knob_pool(n, len(model.items_))
            ).fit(_history_of(model))
        rec = model.recommend(uid, n=n)
    elif isinstance(model, Pipeline):
        if include_seen:
            raise Failure(_NEVER_SEEN.format(model_path))
        # A stranger's random slots (Explore, Thompson) are seeded by their id, as the
        # service seeds them: None would give every text id one draw, not the service's.
        rec = model.recommend(user if uid is None else uid, n=n)
    else:
        rec = model.recommend(uid, n=n, exclude_seen=not include_seen)
    if rec.fallback and not as_json:
        click.echo(
            f"user {user!r} has no history in this model{not_an_id}: most popular items instead"
        )
    if len(rec.ids) == 0 and not as_json:  # a sentence, not pandas' "Empty DataFrame"
        click.echo(f"no items to recommend for user {user!r}: every item is rated or excluded")
        return
    emit(recommendation_table(as_ratings(model, rec, as_json)), as_json)


_NEVER_SEEN = "{} is a saved pipeline; its lists never repeat a seen item (no --include-seen)"


def check_rules_file(path) -> None:
    """Refuse, in one line as a missing model file is, a ``--rules`` path that is no file
    (click's own check printed its three-line usage error and exited 2).

    Example:
        >>> import tempfile
        >>> try:
        ...     check_rules_file(tempfile.gettempdir())
        ... except Failure as err:
        ...     print(err.message.split(" is ")[1])
        a folder, not a rules file (TOML)
    """
    if os.path.isdir(path):
        raise Failure(f"--rules {path} is a folder, not a rules file (TOML)")
    if not os.path.exists(path):
        raise Failure(f"--rules {path}: no such file")


def as_ratings(model, rec, as_json: bool):
    """``rec`` as the text table shows it: a rating model's scores clipped to its rating
    scale, as ``predict(clip=True)`` answers (the order stays the model's), with a note
    on stderr when any was past it.  A pipeline over one rating model and no learned
    ranker (what the re-ranking options build) shows that model's scores, so they are
    clipped the same way.  JSON, a ranking model's scores, a model without a scale and
    a pipeline's fused or ranker scores are left as they are.

    A score of 6.06 on a 1-5 scale read as a broken rating; the service's page shows
    predicted ratings clipped too, and its JSON the raw scores.

    Example:
        >>> import numpy as np
        >>> from latentrec.models import FactorModel
        >>> from latentrec.models.catalog import Catalog
        >>> cat = Catalog.from_ids([1], ["a", "b"], rating_scale=(1.0, 5.0))
        >>> m = FactorModel.from_factors(cat, np.eye(2), [[3.0, 0.5]], global_mean=3.0)
        >>> as_ratings(m, m.recommend(1), as_json=False).scores.tolist()
        [5.0, 3.5]
    """
    rater = _rating_model(model)
    scale = getattr(rater, "rating_scale_", None)
    if as_json or scale is None:
        return rec
    shown = np.clip(rec.scores, *scale)  # NaN (no score) stays NaN
    if not np.array_equal(shown, rec.scores, equal_nan=True):
        click.echo(
            f"(scores past the {scale[0]:g}-{scale[1]:g} rating scale are shown clipped "
            "to it, as predict(clip=True) answers; --json gives the raw scores)",
            err=True,
        )
    return replace(rec, scores=shown)


def _rating_model(model):
    """The rating model whose scores ``model``'s lists show, or None: ``model`` itself, or
    the one candidate of a pipeline without a learned ranker (its lists carry that
    model's scores, its fallback rows the model's μ + b_i).  Several candidates' fused
    ranks and a ranker's outputs are no ratings.

    Example:
        >>> import numpy as np
        >>> from latentrec import Interactions
        >>> from latentrec.models import Biases, Popularity
        >>> data = Interactions.from_dense(np.array([[5, 1, 0], [4, 0, 2]]))
        >>> biases = Biases().fit(data)
        >>> _rating_model(Pipeline(biases, rerankers=[Rules(never=[0])]).fit(data)) is biases
        True
        >>> _rating_model(Popularity().fit(data)) is None
        True
    """
    if isinstance(model, Pipeline):
        if model.ranker is not None or len(model.models) != 1:
            return None
        model = model.models[0]
    return model if getattr(model, "predicts_ratings", False) else None


def _with_gained_histories(model, data: Interactions) -> Interactions:
    """``data`` (the training data over ``model``'s id maps) with the model's seen items
    as the history of each user it gained after training (``onboard --save-as``): the
    pipeline takes a user with no history for a stranger and would give them popularity.

    Their cells carry the data's newest timestamp, so no item's age changes.

    Example:
        >>> import numpy as np, pandas as pd
        >>> from latentrec.models import BiasedMF
        >>> from latentrec.models.inputs import with_model_ids
        >>> data = Interactions.from_dense(np.array([[5, 1, 0], [4, 2, 1]]))
        >>> model = BiasedMF(n_factors=2, n_epochs=5, random_state=0).fit(data)
        >>> new = pd.DataFrame({"user_id": [7], "item_id": [2], "rating": [5]})
        >>> _ = model.partial_fit_users(new)
        >>> grown = _with_gained_histories(model, with_model_ids(model, data))
        >>> grown.matrix.toarray()[2].tolist()
        [0.0, 0.0, 1.0]
    """
    m, seen = data.matrix, model.catalog_.seen.tocsr()
    gained = (np.diff(m.indptr) == 0) & (np.diff(seen.indptr) > 0)
    if not gained.any():
        return data
    # Row indexing keeps every stored cell (an explicit 0 rating included).
    pick = np.where(gained, m.shape[0] + np.arange(m.shape[0]), np.arange(m.shape[0]))
    matrix = sp.vstack([m, seen.astype(m.dtype)], format="csr")[pick]
    timestamps = None
    if data.timestamps is not None:
        newest = data.timestamps.max() if data.timestamps.size else 0
        stamps = sp.vstack(
            [
                sp.csr_matrix((data.timestamps, m.indices, m.indptr), shape=m.shape),
                sp.csr_matrix(
                    (
                        np.full(seen.nnz, newest, dtype=data.timestamps.dtype),
                        seen.indices,
                        seen.indptr,
                    ),
                    shape=seen.shape,
                ),
            ],
            format="csr",
        )[pick]
        timestamps = stamps.data
    return data.replace(matrix=matrix, timestamps=timestamps)


def _history_of(model) -> Interactions:
    """The model's seen items as interactions (no genres, no timestamps)."""
    return Interactions(model.users_, model.items_, model.catalog_.seen)


@main.command("recommend-all")
@click.argument("model_path", metavar="MODEL")  # a folder or no file: one line from load
@click.option(
    "--output",
    "-o",
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    required=True,
    help="Where to write: .parquet, .csv (or .csv.gz).",
)
@click.option(
    "-n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="Items per user."
)
@click.option("--include-seen", is_flag=True, help="Do not exclude items the user rated.")
@fail_on_known_errors
def recommend_all(model_path, output, n, include_seen):
    """Top-N for every user of the model, streamed to a file in chunks.

    \f
    Example: ``latentrec recommend-all model.npz -n 20 -o recs.parquet``
    """
    check_output(output)
    model = load(model_path)
    if include_seen and isinstance(model, Pipeline):
        # Pipeline.recommend_all's refusal names its exclude_seen argument, not the option.
        raise Failure(_NEVER_SEEN.format(model_path))
    with writing(output):
        rows = model.recommend_all(output, n=n, exclude_seen=not include_seen)
    click.echo(f"wrote {rows} recommendations for {model.n_users} users to {output}")


@main.command()
@click.argument("model_path", metavar="MODEL")  # a folder or no file: one line from load
@click.option("--item", "-i", default=None, help="Raw item id: items like this one.")
@click.option("--user", "-u", default=None, help="Raw user id: users like this one.")
@click.option(
    "-n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="How many."
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@fail_on_known_errors
def similar(model_path, item, user, n, as_json):
    """Nearest items (or users) by cosine in the latent space.

    \f
    Example: ``latentrec similar model.npz --item 50 -n 5``
    """
    if (item is None) == (user is None):
        raise click.UsageError("give exactly one of --item or --user")
    model = load(model_path)
    _refuse_pipeline(model, model_path, "similar", "compares items in one model's latent space")
    name = type(model).__name__
    if not hasattr(model, "similar_items"):
        raise Failure(f"{name} has no latent space to compare in")
    if user is not None and not hasattr(model, "similar_users"):
        # Item-kNN keeps item-item similarities only: users have no vectors to compare.
        raise Failure(f"{name} has no user similarity (it compares items only); use --item")
    if item is not None:
        iid = known_id(model.items_, item)
        found = model.similar_items(iid, n=n)  # before any output: a failure prints alone
        label = (model.item_title(iid) or iid) if not as_json else iid
        if len(found.ids) == 0 and not as_json:  # a sentence, not pandas' "Empty DataFrame"
            click.echo(
                f"no items similar to {label}: the model has no other item to compare it "
                "with (an item without training ratings is compared with none)"
            )
            return
        if not as_json:
            click.echo(f"Because you watched {label}:")
        emit(found.to_frame(), as_json)
    else:
        rec = model.similar_users(known_id(model.users_, user), n=n)
        if len(rec.ids) == 0 and not as_json:
            click.echo(
                f"no users similar to user {user!r}: the model has no other user to compare "
                "them with (a user without training ratings is compared with none)"
            )
            return
        emit(
            pd.DataFrame(
                {"rank": np.arange(1, len(rec.ids) + 1), "user_id": rec.ids, "cosine": rec.scores}
            ),
            as_json,
        )


@main.command()
@click.argument("model_path", metavar="MODEL")  # a folder or no file: one line from load
@click.option("--user", "-u", required=True, help="Raw user id.")
@click.option("--item", "-i", required=True, help="Raw item id.")
@click.option(
    "--data",
    "source",
    default=None,
    help="The model's training data: the titles cited are chosen by the user's own "
    "ratings there (at or above their mean), not by the model's fit of them.",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@data_options
@fail_on_known_errors
def explain(model_path, user, item, source, as_json, **opts):
    """Split one prediction into μ + b_u + b_i + p_u·q_i.

    The "because they rated" titles are ones the user liked, closest to the item, among
    those the model was trained on for the user: the user's ratings at or above their
    mean, read from --data (each shown with its rating; a rating there the model did not
    train on, such as a held-out one, is not cited, and a line counts them); without it
    the model's own fit of their ratings stands in, since a model file keeps which
    titles a user rated, not the stars (a user added after training, who has no ratings
    in --data, is explained so, and a note says it).  A user the model does not know gets
    the baseline's prediction (μ + b_i), explained as such; a ranking model (bpr, warp,
    implicit-als) has none, and refuses: such a user gets the popularity list.

    \f
    Example: ``latentrec explain model.npz --user 1 --item 50 --data ml-100k``
    """
    reading = [f"--{k.replace('_', '-')}" for k, v in opts.items() if v not in (None, False)]
    if reading and source is None:
        verb = "tells" if len(reading) == 1 else "tell"
        raise click.UsageError(
            f"{', '.join(reading)} {verb} how to read --data, which is not given"
        )
    model = load(model_path)
    _refuse_pipeline(model, model_path, "explain", "splits one model's prediction")
    if not hasattr(model, "explain"):
        name = type(model).__name__
        if model.predicts_ratings:
            # ItemKNN: its predictions are weighted neighbour ratings, not a sum of terms.
            raise Failure(
                f"{name} predicts ratings from item neighbours, with no factor decomposition "
                "(μ + b_u + b_i + p_u·q_i) to explain; explain takes a factor model such as "
                "biased-mf, svd or als"
            )
        raise Failure(f"{name} predicts no ratings to explain")
    uid, iid = known_id(model.users_, user), known_id(model.items_, item)
    ratings = None
    if model.users_.lookup([uid])[0] < 0:
        # As recommend answers such a user (its fallback) and predict can: the baseline's
        # answer, explained as such; the text says the user part is absent.
        e = model.explain(uid, iid, unknown="baseline")
        click.echo(json.dumps(e.to_dict(), indent=2) if as_json else str(e))
        return
    if source is not None:
        ratings = load_training_data(model, model_path, source, **opts)
        if ratings.matrix[ratings.users.index([uid])[0]].nnz == 0:
            # A user the model gained after training (onboard --save-as) has no row
            # there: the model's fit of what they rated is all there is, and the reader
            # who gave --data is told so rather than left to think the cited titles are
            # chosen by stars read from it.
            ratings = None
            click.echo(
                f"note: --data {source} has no ratings for user {user!r} (a user added "
                "after training, e.g. by onboard --save-as): the titles cited are chosen "
                "by the model's fit of what they rated, not by their stars there",
                err=True,
            )
    e = model.explain(uid, iid, ratings=ratings)
    click.echo(json.dumps(e.to_dict(), indent=2) if as_json else str(e))


def _refuse_pipeline(model, path, command: str, needs: str) -> None:
    """A one-line refusal for a saved pipeline, which has no single model's internals.

    Example:
        >>> _refuse_pipeline(object(), "m.npz", "explain", "splits one model's prediction")
    """
    if isinstance(model, Pipeline):
        raise Failure(
            f"{path} is a saved pipeline, and {command} {needs}: give it one of the "
            "pipeline's candidate models' own files"
        )
