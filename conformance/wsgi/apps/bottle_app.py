"""A Bottle application with routing, query arguments, a POST body and a 404."""
import bottle

app = bottle.Bottle()


@app.get("/hello/<name>")
def hello(name):
    return f"Hello {name} from Bottle (q={bottle.request.query.get('q', '')})"


@app.post("/echo")
def echo():
    return {"received": bottle.request.body.read().decode()}
