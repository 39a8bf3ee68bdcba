"""What keep-cd knows of the Keep contracts (keep-core 1.8.0) its client uses: their names
(``names``), the ABI entries it calls (``abi``), and the staking calls and delegation bytes built
from them (``staking``).

One home for each, shared by the Pulumi program (contracts_step, operators, components) and the
InitContainer, whose image copies this package (initcontainer/Dockerfile).  So it imports only the
standard library, eth_abi and eth_utils: never pulumi, web3 or another keep-cd package.
"""
