"""Whether every dependency the service needs answers (the readiness probe)."""

from collections.abc import Mapping

from decode_userapi.ports.health_probe import HealthProbe


class CheckReadiness:
    def __init__(self, probes: Mapping[str, HealthProbe]) -> None:
        self._probes = probes

    async def __call__(self) -> dict[str, str]:
        """`{name: "ok" | "unavailable: <reason>"}` for every probe."""
        results: dict[str, str] = {}
        for name, probe in self._probes.items():
            try:
                await probe.check()
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"unavailable: {type(exc).__name__}"
        return results
