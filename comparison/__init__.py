"""Comparing mediators on identical dynamics: the library that evaluate.py, train.py and sweeps share.

``score``    the one definition of a learned mediator's score (gain over none / over the best analytic
             counterpart of its families, gap closed), used by reports, TensorBoard and sweeps;
``dynamics`` every mediator through the same engine, learners and seeds; generalisation reports;
``usage``    the one-line usage error every command line reports.
"""
