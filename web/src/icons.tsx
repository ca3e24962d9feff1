/** Two small inline icons (no icon font, no emoji font needed on the machine). */
export function BellIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">
      <path
        fill="currentColor"
        d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22Zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2Z"
      />
    </svg>
  );
}

export function PinIcon() {
  return (
    <svg class="icon" viewBox="0 0 24 24" width="14" height="14" aria-hidden="true" focusable="false">
      <path fill="currentColor" d="M16 3H8v2l1.5 1.5V11L6 14v2h5v5l1 1 1-1v-5h5v-2l-3.5-3V6.5L16 5V3Z" />
    </svg>
  );
}
