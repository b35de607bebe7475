"""The FastAPI app for uvicorn: ``uvicorn api:app``. All wiring lives in recommender.web."""

from recommender.web import create_app

app = create_app()
