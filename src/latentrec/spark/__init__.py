"""Apache Spark engine: ALS whose half-steps run latentrec's own row solver on executors.

``fit_als`` trains on a Spark DataFrame and returns an ordinary
:class:`~latentrec.models.FactorModel`; ``from_spark_als`` imports a ``pyspark.ml``
``ALSModel``; ``recommend_all`` computes every user's top-N on the executors with seen
items excluded; ``read_ratings`` reads a ratings file and refuses a bad
row by its file and line.  pyspark is imported only when these run (the ``spark`` extra).
"""

from .als import fit_als
from .interop import from_spark_als, recommend_all
from .reading import read_ratings
from .session import spark_session

__all__ = ["fit_als", "from_spark_als", "read_ratings", "recommend_all", "spark_session"]
