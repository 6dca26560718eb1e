// The first script on every page: a classic script in <head>, run before the page is drawn
// and before the app's modules load (which can take seconds on a slow connection). A
// consultation link is /join#TOKEN (or /guest#TOKEN, an interpreter's or carer's): the token is taken out of the address bar here at once,
// so it is not left in the browser's history or on the screen, and handed to the app
// (main.js), which removes it from window as soon as it starts.
(function () {
  var path = location.pathname.replace(/\/+$/, '');
  if ((path !== '/join' && path !== '/guest') || location.hash.length < 2) return;
  var token = location.hash.slice(1);
  history.replaceState(null, '', path);
  window.parleyJoinToken = token;
}());
