"""``latentrec onboard``: ask a new user about a few titles, then recommend from the answers.

Owns the prompting loop and the ``--answers`` parser; choosing the questions and folding the
answers into a user vector belong to the model (:mod:`latentrec.onboarding`).
"""

from __future__ import annotations

import re
from typing import NamedTuple

import click

from .. import load
from ..data.vocabulary import UnknownIdError
from ..errors import CannotRankError
from ..models.foldin import answer_range
from ._common import (
    INTEGER_SPELLING,
    Failure,
    check_model_output,
    emit,
    fail_on_known_errors,
    flags_apply,
    given_on_command_line,
    known_id,
    main,
    recommendation_table,
    writing,
)
from .recommend import as_ratings

# One comma-separated field: an id in double quotes, CSV-style ("" for a quote inside),
# with what follows its closing quote up to the next comma; or a bare field, which does
# not start with a quote.  Only an opening quote without its closing one fails to match.
_FIELD = re.compile(
    r'\s*(?:"(?P<quoted>(?:[^"]|"")*)"(?P<tail>[^,]*)|(?P<plain>(?!")[^,]*))(?:,|\Z)'
)


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _new_user_id(vocab, raw: str):
    """``--save-as``'s id as a ratings file would read it, or a :class:`Failure` saying
    how a file reads it and what to give instead.

    A file reads " dee " as ``dee`` and, in a column of integer ids, "007" as 7: saved
    as written, ``' dee '`` was a user no file (nor the service) would name again, and
    "007" was refused as not "written in digits".  An id is written into a model in the
    one spelling a file reads, so any other is refused, never silently changed.

    Example:
        >>> from latentrec.data import Vocabulary
        >>> ints, texts = Vocabulary([3, 7], name="user"), Vocabulary(["a"], name="user")
        >>> _new_user_id(ints, "5"), _new_user_id(texts, "007")
        (5, '007')
        >>> try:
        ...     _new_user_id(ints, "007")
        ... except Failure as err:
        ...     print(str(err).split(", and ")[1])
        a ratings file reads '007' as 7: give --save-as 7
    """
    if vocab.is_integer:
        if INTEGER_SPELLING.fullmatch(raw) and _INT64_MIN <= int(raw) <= _INT64_MAX:
            return int(raw)
        try:
            read = known_id(vocab, raw)
        except UnknownIdError as err:
            raise Failure(f"--save-as {raw!r}: {err.args[0].split('; ', 1)[-1]}") from None
        raise Failure(
            f"--save-as {raw!r}: this model's user ids are integers, and a ratings file "
            f"reads {raw!r} as {read}: give --save-as {read}"
        )
    bare = raw.strip()
    if not bare:
        raise Failure(f"--save-as {raw!r}: an id of nothing but spaces is no id")
    if bare != raw:
        raise Failure(
            f"--save-as {raw!r}: a ratings file reads it as {bare!r} (ids lose the spaces "
            f"around them): give --save-as {bare!r}"
        )
    return raw


class Field(NamedTuple):
    """One field of a comma-separated option value (see :func:`quoted_fields`)."""

    text: str
    """The id, quotes removed (``""`` read as ``"``), or a bare field, stripped."""
    quoted: bool
    tail: str
    """What follows a quoted id's closing quote up to the comma, stripped ('' if bare)."""
    raw: str
    """The field as written, for error messages."""


def quoted_fields(text: str, option: str) -> list[Field]:
    """The comma-separated fields of ``option``'s value ``text``; an id holding a comma is
    written in double quotes, as in a CSV file (``""`` stands for a quote inside them).

    Empty fields (``",,"``, a trailing comma) are skipped.  The parser of ``onboard
    --answers`` (``ITEM=RATING``: the rating is a quoted id's tail) and of ``plot
    taste-map --label-items`` (ids alone), so that both read quotes alike.

    Example:
        >>> got = quoted_fields('"a,b"=5, x ,,"say ""hi"" now",', "--x")
        >>> [(f.text, f.quoted, f.tail) for f in got]
        [('a,b', True, '=5'), ('x', False, ''), ('say "hi" now', True, '')]
    """
    fields = []
    pos = 0
    while pos < len(text):
        match = _FIELD.match(text, pos)
        if match is None:
            raise Failure(
                f"{option}: a quoted item needs its closing quote, got {text[pos:].strip()!r}"
            )
        raw = text[pos : match.end()].removesuffix(",").strip()
        pos = match.end()
        if match["quoted"] is not None:
            unquoted = match["quoted"].replace('""', '"')
            fields.append(Field(unquoted, True, match["tail"].strip(), raw))
        elif match["plain"].strip():
            fields.append(Field(match["plain"].strip(), False, "", raw))
    return fields


def _parse_answers(model, text: str) -> dict:
    """``"50=5,172=4"`` -> ``{50: 5.0, 172: 4.0}`` with ids typed like the model's.

    An item id holding ',' or '=' is written in double quotes, as in a CSV file
    (``'"a,b"=5,"x=y"=3'``; ``""`` stands for a quote inside them).

    Example:
        >>> from latentrec.models import FactorModel
        >>> import numpy as np
        >>> m = FactorModel.from_factors(([0], ["a,b", "x=y", 'say "hi" now']), np.eye(3))
        >>> _parse_answers(m, '"a,b"=5, "x=y" = 3,"say ""hi"" now"=1')
        {'a,b': 5.0, 'x=y': 3.0, 'say "hi" now': 1.0}
    """
    answers = {}
    for field in quoted_fields(text, "--answers"):
        if field.quoted:
            item, sep, value = field.text, field.tail[:1], field.tail[1:]
        else:  # a bare item holds no '=': the first one ends it
            item, sep, value = (x.strip() for x in field.text.partition("="))
        try:
            rating = float(value)
        except ValueError:
            rating = None
        if sep != "=" or not item or rating is None:
            raise Failure(
                "--answers takes ITEM=RATING pairs separated by commas (quote an item "
                f'holding , or = as "a,b"=5), got {field.raw!r}'
            )
        key = known_id(model.items_, item)
        if key in answers:  # which of two ratings was meant is not ours to guess
            raise Failure(f"--answers rates item {item} more than once")
        answers[key] = rating
    return answers


def _ranking_note(model) -> str | None:
    """What a ranking model makes of a star answer, or None for a rating model.

    Example:
        >>> from latentrec.models import GlobalMean
        >>> _ranking_note(GlobalMean()) is None
        True
    """
    if getattr(model, "predicts_ratings", True):
        return None
    name = type(model).__name__
    threshold = getattr(model, "min_rating", None)
    if threshold is not None:
        return (
            f"note: {name} ranks; it reads an answer of {threshold:g} or more as liked and a "
            "lower one as seen only"
        )
    return (
        f"note: {name} ranks; it reads every answer as a title the user liked, a low "
        "rating too: skip the titles you disliked"
    )


# The rating models docs/benchmarks.md's "Onboarding a new user" measured
# (benchmarks/onboarding_ml100k.py --models biased-mf als): only their note cites its figure.
_MEASURED_RATING_MODELS = frozenset({"BiasedMF", "ALS"})


def _rating_note(model) -> str | None:
    """What a rating model's list for a newcomer is worth, or None for a ranking model.

    A folded-in rating model ranks by predicted stars, whose top is titles few people
    rated highly; on held-out users that list lost to plain popularity, and a ranking
    model beat it (docs/benchmarks.md, "Onboarding a new user", which measured BiasedMF and
    ALS: the figure is cited for those only; another rating model gets the reason alone).

    Example:
        >>> from latentrec.models import BiasedMF, ImplicitALS
        >>> _rating_note(BiasedMF()).startswith("note: BiasedMF is a rating model")
        True
        >>> _rating_note(ImplicitALS()) is None
        True
        >>> from latentrec.models import NMF
        >>> "0.30" in _rating_note(NMF())
        False
    """
    if not getattr(model, "predicts_ratings", True):
        return None
    name = type(model).__name__
    reason = (
        f"note: {name} is a rating model: it ranks a newcomer's titles by predicted stars, "
        "which favours rarely-rated titles"
    )
    if name not in _MEASURED_RATING_MODELS:
        # A figure measured on other models would read as this one's: the reason only.
        return (
            f"{reason}, so its list may lose to popularity; a ranking model such as "
            "implicit-als is the one to onboard with (docs/benchmarks.md, 'Onboarding a "
            "new user')"
        )
    return (
        f"{reason}; measured for BiasedMF and ALS on held-out MovieLens-100K users, their "
        "NDCG@10 was 0.30 below popularity's, while a ranking model did better "
        "(implicit-als: 0.568 vs popularity's 0.485; docs/benchmarks.md, 'Onboarding a new "
        "user')"
    )


def _ask(model, questions, k: int) -> dict:
    """Ask the questions in order until ``k`` are answered; skipped titles stay out."""
    # The model's own rule (its scale, else its training ratings' range) says what it takes.
    bounds = answer_range(model)
    scale = None if bounds is None else bounds[:2]
    hint = f"{scale[0]:g}-{scale[1]:g}" if scale else "a number, or y"
    click.echo(
        f"Rate up to {k} of these titles ({hint}); 's' skips one you have not seen, "
        "'q' stops asking.",
        err=True,
    )
    answers = {}
    for number, row in enumerate(questions.itertuples(index=False), start=1):
        if len(answers) >= k:
            break
        name = getattr(row, "title", None) or row.item_id
        while True:
            prompt = f"[{number}/{len(questions)}] {name}"
            try:
                text = click.prompt(prompt, default="s", show_default=False, err=True)
            except click.Abort as err:
                # click turns both Ctrl-C and the end of input into Abort.  Answers piped
                # on stdin end with the input, often before k are given: that is the
                # user's last answer (as 'q'), not a reason to drop the answers read.
                if not isinstance(err.__context__, EOFError):
                    raise
                click.echo("", err=True)
                return answers
            text = text.strip().lower()
            if text in ("s", "skip", ""):
                break
            if text in ("q", "quit"):
                return answers
            if text in ("y", "yes") and scale is None:
                answers[row.item_id] = 1.0
                break
            try:
                value = float(text)
            except ValueError:
                value = None
            if value is not None and (scale is None or scale[0] <= value <= scale[1]):
                answers[row.item_id] = value
                break
            click.echo(f"  please answer {hint}, or s to skip", err=True)
    return answers


@main.command()
@click.argument("model_path", metavar="MODEL")  # a folder or no file: one line from load
@click.option("-k", "k", type=int, default=5, show_default=True, help="Answers to collect.")
@click.option(
    "--max-questions",
    type=int,
    default=None,
    help="Titles to offer at most while collecting k answers (default 2k).",
)
# Checked by click before any question: -n 0 was refused only after every answer was given.
@click.option(
    "-n", "n", type=click.IntRange(min=1), default=10, show_default=True, help="How many items."
)
@click.option(
    "--answers",
    default=None,
    metavar="ITEM=RATING,...",
    help='Answer without prompting, e.g. --answers "50=5,172=4"; an item id holding , or = '
    'goes in double quotes, as in CSV: --answers \'"a,b"=5,"x=y"=3\'.',
)
@click.option(
    "--min-ratings",
    type=click.IntRange(min=0),
    default=None,
    help="Ask only about titles with at least this many ratings (default: top 15%).",
)
@click.option("--save-as", default=None, help="Add the new user to the model under this id.")
@click.option(
    "--output",
    "-o",
    # Not click.Path(dir_okay=False): check_output refuses a directory in one line, exit 1.
    metavar="FILE",
    default=None,
    help="Where to write the model with the new user (with --save-as).",
)
@click.option("--json", "as_json", is_flag=True, help="JSON output.")
@fail_on_known_errors
def onboard(model_path, k, max_questions, n, answers, min_ratings, save_as, output, as_json):
    """Recommend for a new user from their ratings of a few well-chosen titles.

    Shows popular titles spread across the model's taste dimensions and asks for a
    rating of each (skip the ones you have not seen) until k are answered, folds the
    answers into a user vector and prints the top-n (a rating model's scores clipped
    to its rating scale, as recommend shows them; --json gives the raw scores).  Answers
    may be piped on standard
    input, one a line; the end of the input stops asking, as 'q' does.  With --save-as
    ID --output FILE the new user is added to the model and written to FILE.

    \f
    Example: ``latentrec onboard model.npz -k 5 --save-as alice -o model2.npz``
    """
    if (save_as is None) != (output is None):
        raise click.UsageError("--save-as and --output go together")
    if k < 1 or (max_questions is not None and max_questions < k):
        raise click.UsageError("need k >= 1 and --max-questions >= k")
    if answers is not None:
        # What to ask is not asked: options that choose the questions would do nothing.
        asking = [flag for name, flag in (("k", "-k"), ("max_questions", "--max-questions"),
                  ("min_ratings", "--min-ratings")) if given_on_command_line(name)]  # fmt: skip
        if asking:
            raise click.UsageError(
                f"{flags_apply(asking)} to the questions asked, and --answers asks none"
            )
    if output is not None:
        # The model itself may be named: it is rewritten whole, with the new user added.
        check_model_output(output)
    model = load(model_path)
    if not hasattr(model, "onboard"):
        raise Failure(f"{type(model).__name__} has no latent factors to place a new user in")
    if not model.orders_items:  # GlobalMean: said before any question
        raise Failure(str(CannotRankError.of(model)))
    # Said before any question.
    user = None if save_as is None else _new_user_id(model.users_, save_as)
    if user is not None and model.users_.lookup([user])[0] >= 0:
        # Said before any question; the library's own message names its Python API.
        raise Failure(
            f"--save-as {save_as}: user {save_as} already has a history in this model; "
            "onboarding adds new users: give an id the model does not have"
        )
    if answers is not None:
        given = _parse_answers(model, answers)
    else:
        questions = model.onboarding_items(max_questions or 2 * k, min_ratings=min_ratings)
        if len(questions) == 0:  # asking nothing and falling back would hide why
            raise Failure(
                f"no title has at least {min_ratings} ratings to ask about; lower --min-ratings"
            )
    # Asked "1-5", a user gives 1 to a title they disliked; a ranking model took that as
    # a liking as strong as a 5 (HybridMF) or a weaker one (ImplicitALS), without a word.
    # Said once the answers are read (an error in them is then the one line printed) and
    # before any question.
    note = _ranking_note(model)
    if note is not None:
        click.echo(note, err=True)
    if answers is None:
        given = _ask(model, questions, k)
    if user is not None and not given:
        raise Failure(f"no answers, so no user {user!r} to add")
    try:
        rec = model.onboard(given, n=n, user_id=user)
    except TypeError as err:  # e.g. a text --save-as for a model with integer user ids
        raise Failure(str(err)) from None
    if rec.fallback and not as_json:
        click.echo("no usable answers: most popular items instead")
    elif not as_json:
        click.echo(f"Recommended from {len(given)} answer(s):")
    emit(recommendation_table(as_ratings(model, rec, as_json)), as_json)
    if user is not None:
        with writing(output):
            model.save(output)
        click.echo(f"user {user!r} added; model written to {output}", err=True)
    # A rating model's list for a newcomer loses to popularity (docs/benchmarks.md):
    # said under the list, on standard error (--json output stays JSON), once all went
    # well, so that a failure is the one line printed.
    note = None if rec.fallback else _rating_note(model)
    if note is not None:
        click.echo(note, err=True)
