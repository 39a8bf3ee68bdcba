"""The keep-client's InitContainer programs, run in the cluster from the image built by
``initcontainer/Dockerfile``: ``prepare_client`` (standard library only; writes the config and
keyfile onto the client's volume), then ``operator_check`` or ``provision_operator``.

May import ``keep_contracts`` and the pulumi-free parts of ``chain`` that the Dockerfile copies,
plus the packages pinned in ``initcontainer/requirements.txt``; never pulumi.
"""
