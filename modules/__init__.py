"""ComponentResources, one per service family, that turn the validated model into OpenStack.

`kuntapilvi.program` wires them; each component picks its cards by their `module` key
(`tenant.by_module(...)`). A unit test checks that every module key of the card schema is
picked up by some component, so a card can never be adopted and silently build nothing.
"""
