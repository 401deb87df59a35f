"""The rules of kuntapilvi's Pulumi policy pack (policy/ at the project root), as pure functions
over what the engine tells the pack about each resource. The pack only wires them to
pulumi-policy; these modules do not import it, so they can be tested on plain data."""
