"""How the saga's tests, demo and benchmark deploy and run it.

The e2e context makes the seed's simulations deterministic (every payment and reservation
succeeds unless a test forces a branch with the harness's faults) and the functions' timeout
shorter (a forced timeout costs 10 s, not 30; 3 s was seen to time out cold starts when several
orders start environments at once on a busy 2-core machine). The retries keep the seed's backoff (2 s × 2.0,
3 retries); the tests run with virtual Step Functions time instead (``TIME_SCALE``).
"""

E2E_CONTEXT = {"payment_success_rate": "1", "inventory_availability_rate": "1",
               "function_timeout_seconds": "10"}
#: Step Functions waits and retry intervals last a thousandth of their time in the tests
TIME_SCALE = 0.001
