"""The fleet on this machine: keep-clients run as processes from the manifests `make local` rendered.

Workbench, not program: nothing here is imported by the Pulumi program.  ``pods`` reads the
rendered objects (Deployment, ConfigMap, Secret, Service) into what a kubelet would run;
``sandbox`` runs one container's command in a mount namespace (bubblewrap) where the pod's volume
mounts, the image's files and the pod's environment sit at the paths the manifests name, so the
keep-client reads exactly the rendered TOML, keyfile and password; ``runner`` starts the fleet
bootstrap clients first, observes it through the clients' own /metrics and /diagnostics, and
stops it.  May import: bench.gobuild, bench.engine, keep_contracts, the standard library, yaml.
"""
