"""The emulator's project and dataset, shared by conftest.py and the tests
that spell table paths in GoogleSQL (a module of its own: every test folder
has a conftest, so `from conftest import` would find another folder's)."""
PROJECT = "enclave-test"
DATASET = "cdr_kernel"
