"""Commands that start processes: the demo, the local run of one package, the development stack,
the embedded broker and Flower. Task modules (`tasks/`) never import from here."""
