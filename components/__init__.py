"""The Kubernetes and GCP side of keep-cd, one ComponentResource per concept: the keep-client fleet
(``keep_network.KeepNetwork`` of ``keep_client.KeepClient``, with the client's TOML config in
``client_config`` and its libp2p identity in ``peer_id``) and CI's push-deploy access to a private
GKE cluster (``push_deploy_access``).

May import ``chain`` (errors), ``keep_contracts`` (the contract names a client reads) and
``operators`` (the provisioning modes); never ``contracts_step`` (addresses reach it as Outputs) or
``settings`` (it receives typed ``Args``).
"""
