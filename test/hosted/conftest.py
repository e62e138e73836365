"""The hosted tests' shared code lives in test/lib (the API's contract
suite, api_contract.py, also run by test/vm): put it on the import path,
with pytest's assertion rewriting, before any test module imports it."""
import os
import sys

import pytest

sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "lib")))
pytest.register_assert_rewrite("api_contract")
