"""Many runs and where they execute: in this process (`executor`), as Ray actors on a cluster
(`ray_executor`), a configuration over seeds and values (`sweep`) and ENAS against random search on equal
budgets (`race`). Imports the engine and everything below it."""
