# /s.css and /s.js: the style sheet and the one small script (browsers cache them).


def handle(web, req):
    if req.path == "/s.css":
        return 200, ["Content-Type: text/css", "Cache-Control: max-age=86400"], CSS
    return 200, ["Content-Type: application/javascript", "Cache-Control: max-age=86400"], JS


CSS = (
    "body{font:16px/1.4 system-ui,sans-serif;margin:0 auto;max-width:62em;padding:.5em;"
    "color:#222;background:#fafafa}"
    "nav{display:flex;flex-wrap:wrap;gap:.3em 1em;align-items:center;"
    "border-bottom:1px solid #ccc;padding-bottom:.4em}"
    "nav form{margin-left:auto}h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.2em}"
    "button,.b{font:inherit;padding:.4em .9em;border:1px solid #888;border-radius:.3em;"
    "background:#eee;cursor:pointer}"
    ".big{font-size:1.3em;padding:.7em 1.2em;width:100%;max-width:18em;margin:.2em 0;"
    "background:#234;color:#fff}"
    ".mode{font-size:1.5em;font-weight:bold;margin:.3em 0}"
    "table{border-collapse:collapse;width:100%}"
    "td,th{padding:.3em;border-bottom:1px solid #ddd;text-align:left;vertical-align:top}"
    ".err,.v2{color:#b00}.ok,.v0{color:#070}.v1{color:#a60}small{color:#666;font-size:.9em}"
    "input,select,textarea{font:inherit;box-sizing:border-box;max-width:100%;width:100%}"
    "[type=checkbox],[type=time],[type=file]{width:auto}"
    "textarea{min-height:4.5em}label{display:block;margin-top:.7em;font-weight:bold}"
    "label *,fieldset label{font-weight:normal}label small{display:block}"
    "fieldset label{display:inline-block;margin:0 .5em 0 0}"
    "fieldset{border:1px solid #ccc;margin:.5em 0}td form{display:inline}"
    "@media(max-width:40em){.calls thead{display:none}.calls td{display:block;"
    "border:0;padding:.05em .2em}.calls tr{display:block;border-bottom:1px solid #ccc;"
    "padding:.3em 0}}"
)

# Only an enhancement: picking a zone fills the POSIX string field.
JS = (
    'var s=document.getElementById("tzpick"),t=document.getElementById("timezone");'
    "if(s&&t)s.onchange=function(){if(s.value)t.value=s.value};"
)
