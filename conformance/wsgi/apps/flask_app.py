"""A Flask application exercising what real sites do: JSON, forms, redirects, cookies,
streaming and multipart uploads."""
import hashlib

from flask import Flask, Response, jsonify, redirect, request, stream_with_context

app = Flask(__name__)


@app.get("/json")
def json_view():
    return jsonify(message="hello", args=request.args.to_dict())


@app.post("/form")
def form_view():
    return jsonify(name=request.form.get("name"), tags=request.form.getlist("tag"))


@app.get("/redirect")
def redirect_view():
    return redirect("/json?from=redirect")


@app.get("/cookie/set")
def set_cookie():
    response = jsonify(ok=True)
    response.set_cookie("flavour", "oatmeal", httponly=True)
    response.set_cookie("size", "large")
    return response


@app.get("/cookie/get")
def get_cookie():
    return jsonify(flavour=request.cookies.get("flavour"), size=request.cookies.get("size"))


@app.get("/stream")
def stream():
    def generate():
        for n in range(1000):
            yield f"line {n}\n"
    return Response(stream_with_context(generate()), mimetype="text/plain")


@app.post("/upload")
def upload():
    upload = request.files["file"]
    data = upload.read()
    return jsonify(filename=upload.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   note=request.form.get("note"))


@app.get("/error")
def error():
    raise RuntimeError("flask view failed")
