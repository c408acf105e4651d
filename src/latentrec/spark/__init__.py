"""Apache Spark engine: ALS whose half-steps run latentrec's own row solver on executors."""
