"""`python -m zapgate_sidecar`: run a sidecar with settings from the environment."""

from zapgate_sidecar.app import main

main()
