"""QuickDrawExampleGen: the conversion job as a TFX ExampleGen component."""

from components.example_gen.component import QuickDrawExampleGen

__all__ = ["QuickDrawExampleGen"]
