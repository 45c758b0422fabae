"""trainlab: a LangGraph research lab that tunes, trains and studies neural networks."""

__version__ = "0.1.0"
