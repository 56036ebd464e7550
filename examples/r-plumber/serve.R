# Starts the API on the port the platform gives in $PORT (Gale, or Cloud Run).
library(plumber)

port <- as.integer(Sys.getenv("PORT", "8000"))
api <- pr("api.R")
message("fuel-economy API listening on 127.0.0.1:", port, " as ", Sys.getenv("K_REVISION", "local"))
# Gale reaches instances over loopback; on Cloud Run, listen on host = "0.0.0.0" instead.
pr_run(api, host = "127.0.0.1", port = port, docs = FALSE, quiet = TRUE)
