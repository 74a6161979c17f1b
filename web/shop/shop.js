// The demo shop's cart: kept in localStorage and reported to the chat widget, as a shop
// would with Switchboard.track('cart', {value, items}).
(function () {
  'use strict';
  const key = 'demo-shop-cart';
  const read = () => JSON.parse(localStorage.getItem(key) || '[]');
  function report(cart) {
    const value = cart.reduce((sum, line) => sum + line.price * line.quantity, 0);
    const items = cart.reduce((sum, line) => sum + line.quantity, 0);
    document.querySelectorAll('.cart-count').forEach((el) => { el.textContent = `Cart: ${items} item${items === 1 ? '' : 's'}, €${value.toFixed(2)}`; });
    if (window.Switchboard) window.Switchboard.track('cart', { value: Math.round(value * 100) / 100, items });
  }
  window.demoShop = {
    add(sku, name, price) {
      const cart = read();
      const line = cart.find((l) => l.sku === sku);
      if (line) line.quantity += 1; else cart.push({ sku, name, price, quantity: 1 });
      localStorage.setItem(key, JSON.stringify(cart));
      report(cart);
    },
    clear() { localStorage.setItem(key, '[]'); report([]); },
    lines: read,
  };
  // The widget script loads async: report once both are there.
  function start() { if (window.Switchboard) report(read()); else setTimeout(start, 50); }
  document.addEventListener('DOMContentLoaded', start);
})();
