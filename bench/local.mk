# bench: load generator and benchmark scripts (not run by CI's pass/fail)
